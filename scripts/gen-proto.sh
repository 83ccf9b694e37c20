#!/usr/bin/env bash
# Regenerates Sources/LedgerWire from Protos/ with Debian's protoc and the swift-protobuf and
# grpc-swift-protobuf plugins, built from the package's own dependencies (about a minute the first
# time). The generated Swift is committed; run this after changing a .proto file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

medrex_require_packages protobuf-compiler

plugins="${MEDREX_PLUGIN_DIR:-.build-protoc-plugins}"
swift build --product protoc-gen-swift --scratch-path "$plugins"
swift build --product protoc-gen-grpc-swift-2 --scratch-path "$plugins"
bin="$(swift build --scratch-path "$plugins" --show-bin-path)"

out=Sources/LedgerWire
find "$out" -name '*.pb.swift' -delete
find "$out" -name '*.grpc.swift' -delete

mapfile -t protos < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | sort)
protoc \
    --proto_path=Protos \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --swift_out="$out" \
    --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    --grpc-swift-2_out="$out" \
    --grpc-swift-2_opt=Visibility=Public,FileNaming=PathToUnderscores,Client=true,Server=true \
    "${protos[@]}"

# Files of protos that declare no service come out of the gRPC plugin empty of code; drop them.
for file in "$out"/*.grpc.swift; do
    grep -q 'GRPCCore' "$file" || rm -f "$file"
done
echo "Generated $(ls "$out"/*.swift | wc -l) files in $out from ${#protos[@]} protos."
