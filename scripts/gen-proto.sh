#!/usr/bin/env bash
# Regenerates Sources/LedgerWire from Protos/ with Debian's protoc and the protoc-gen-swift and
# protoc-gen-grpc-swift-2 plugins. The generated Swift is committed; run this after changing a
# .proto file.
#
# The plugins are built (release, about a minute and a half the first time on 2 cores) in a small
# throwaway package that this script writes itself, in .build-protoc-plugins/ (git-ignored) or in
# the directory named by $MEDREX_PLUGIN_DIR. It depends on the same swift-protobuf and
# grpc-swift-protobuf versions as Package.swift, so the generated code matches the runtime.
# SwiftPM's protobuf build plugin is deliberately not used (it compiles protobuf's C++).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/lib.sh

# protoc, and the well-known types (google/protobuf/timestamp.proto) that libprotobuf-dev ships.
if ! command -v protoc >/dev/null 2>&1 || [ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
    medrex_require_packages protobuf-compiler libprotobuf-dev
fi

plugins="${MEDREX_PLUGIN_DIR:-$root/.build-protoc-plugins}"
mkdir -p "$plugins"
plugins="$(cd "$plugins" && pwd)"

manifest="$(
    cat <<'EOF'
// swift-tools-version: 6.1
// Written by Medrex's scripts/gen-proto.sh: builds the protoc plugins only. Not part of Medrex.
import PackageDescription

let package = Package(
    name: "protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    ]
)
EOF
)"
# Rewrite the manifest only when it changed, so that SwiftPM does not resolve again for nothing.
if [ ! -f "$plugins/Package.swift" ] || [ "$(cat "$plugins/Package.swift")" != "$manifest" ]; then
    printf '%s\n' "$manifest" >"$plugins/Package.swift"
fi

echo "Building protoc plugins in $plugins ..."
(
    cd "$plugins"
    swift build -c release --product protoc-gen-swift
    swift build -c release --product protoc-gen-grpc-swift-2
)
bin="$(cd "$plugins" && swift build -c release --show-bin-path)"

out=Sources/LedgerWire
mapfile -t protos < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
((${#protos[@]})) || { echo "no .proto files under Protos/" >&2; exit 1; }

# Generate into a scratch directory first, so that a failed run leaves the committed code alone.
staging="$(mktemp -d "$plugins/generated.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

protoc \
    --proto_path=Protos \
    --proto_path=/usr/include \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --swift_out="$staging" \
    --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    --grpc-swift-2_out="$staging" \
    --grpc-swift-2_opt=Visibility=Public,FileNaming=PathToUnderscores,Client=true,Server=true \
    "${protos[@]}"

# The gRPC plugin writes a file for every proto; those of protos without a service hold no code.
for file in "$staging"/*.grpc.swift; do
    grep -q '^import GRPCCore' "$file" || rm -f "$file"
done

# Replace all generated files, so that a removed or renamed proto leaves nothing behind.
find "$out" -maxdepth 1 \( -name '*.pb.swift' -o -name '*.grpc.swift' \) -delete
mv "$staging"/*.swift "$out"/

echo "Generated $(find "$out" -maxdepth 1 -name '*.swift' | wc -l) files in $out from ${#protos[@]} protos."
