#!/usr/bin/env bash
# Medrex quickstart on a fresh Debian machine with Swift: installs what it needs, builds in release
# mode, and generates the key material of the sample network (network-config/network.yaml) under
# run/crypto, then prints a summary of it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

medrex_require_packages "${MEDREX_PACKAGES[@]}"

swift build -c release --product medrex
medrex="$(swift build -c release --show-bin-path)/medrex"

mkdir -p run
"$medrex" crypto generate --config network-config/network.yaml --output run/crypto --force

echo
echo "Certificates (subject, NodeOU and healthcare attributes):"
for cert in run/crypto/*/{orderers,peers,users}/*/msp/signcerts/cert.pem; do
    [ -f "$cert" ] || continue
    subject=$(openssl x509 -in "$cert" -noout -subject -nameopt compat | sed 's/^subject=//')
    attrs=$(openssl x509 -in "$cert" -noout -text | grep -o '{"attrs":{[^}]*}}' || true)
    ca="$(dirname "$cert")/../cacerts/ca-cert.pem"
    verdict=$(openssl verify -CAfile "$ca" "$cert" >/dev/null 2>&1 && echo "verified" || echo "NOT VERIFIED")
    printf '  %-75s %s %s\n' "$subject" "$verdict" "$attrs"
done
