#!/usr/bin/env bash
# Medrex quickstart on a fresh Debian machine with Swift. It installs what it needs, builds in
# release mode, and then:
#   1. generates the sample network's keys and certificates (network-config/network.yaml),
#   2. creates the genesis block of the solo channel `devchannel`,
#   3. starts a solo orderer and HospitalA's peer0 (mutual TLS, operations endpoints),
#   4. installs the example chaincode (Examples/asset-transfer) on the peer and queries it,
#   5. measures the orderer (Broadcast → Deliver) and the endorser (proposals/s),
# and stops everything it started, also on Ctrl-C. Everything lives under run/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

medrex_require_packages "${MEDREX_PACKAGES[@]}" curl

swift build -c release --product medrex
medrex="$(swift build -c release --show-bin-path)/medrex"

run="$PWD/run"
mkdir -p "$run"
rm -rf "$run/orderer0" "$run/peer0-hospital-a"
pids=()
stop() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "== 1. crypto material"
"$medrex" crypto generate --config network-config/network.yaml --output "$run/crypto" --force

echo "== 2. channel devchannel"
"$medrex" channel create --config network-config/network.yaml --channel devchannel --crypto "$run/crypto" --output "$run/devchannel.block"

echo "== 3. orderer and peer"
cat >"$run/orderer0.yaml" <<YAML
mspID: OrdererMSP
msp: crypto/OrdererOrg/orderers/orderer0/msp
listen: 127.0.0.1:7050
tls:
  certificate: crypto/OrdererOrg/orderers/orderer0/tls/cert.crt
  privateKey: crypto/OrdererOrg/orderers/orderer0/tls/key.pem
  clientRootCAs: [crypto/HospitalA/tlsca/tlsca-cert.pem, crypto/HospitalB/tlsca/tlsca-cert.pem]
data: orderer0
operations: 127.0.0.1:9440
channels: [devchannel.block]
YAML
cat >"$run/peer0-hospital-a.yaml" <<YAML
mspID: HospitalAMSP
msp: crypto/HospitalA/peers/peer0/msp
listen: 127.0.0.1:7051
tls:
  certificate: crypto/HospitalA/peers/peer0/tls/cert.crt
  privateKey: crypto/HospitalA/peers/peer0/tls/key.pem
  clientRootCAs: [crypto/HospitalA/tlsca/tlsca-cert.pem, crypto/HospitalB/tlsca/tlsca-cert.pem]
data: peer0-hospital-a
roles: [endorser]
operations: 127.0.0.1:9443
channels:
  - genesis: devchannel.block
    chaincodes:
      - { name: asset-transfer, version: "1.0" }
YAML
"$medrex" chaincode install Examples/asset-transfer --data "$run/peer0-hospital-a" --name asset-transfer
"$medrex" orderer start --config "$run/orderer0.yaml" >"$run/orderer0.log" 2>&1 &
pids+=($!)
"$medrex" peer start --config "$run/peer0-hospital-a.yaml" >"$run/peer0-hospital-a.log" 2>&1 &
pids+=($!)
for port in 9440 9443; do
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
        sleep 0.2
    done
    echo "  127.0.0.1:$port/healthz: $(curl -s "http://127.0.0.1:$port/healthz")"
done

echo "== 4. chaincode queries (HospitalB's lab technician asks HospitalA's peer)"
query=("$medrex" chaincode query --crypto "$run/crypto" --org HospitalB --msp-id HospitalBMSP --user lab-tech-lee
       --peer-org HospitalA --peer 127.0.0.1:7051 --channel devchannel --name asset-transfer)
echo "  create asset-1 (evaluated, not committed): $("${query[@]}" create asset-1 alice 300)"
echo "  listByOwner alice: $("${query[@]}" listByOwner alice)"
echo "  read asset-1: $("${query[@]}" read asset-1 2>&1 || true)"

echo "== 5. measurements (release build, this machine)"
"$medrex" bench order --envelopes 20000 2>/dev/null | grep -v notice
"$medrex" bench endorse --proposals 20000 2>/dev/null | grep -v notice
"$medrex" bench state --blocks 200 2>/dev/null
echo
echo "Logs: $run/orderer0.log, $run/peer0-hospital-a.log. Stopping the orderer and the peer."
