#!/usr/bin/env bash
# Medrex quickstart on a fresh Debian machine with Swift. It installs what it needs, builds in
# release mode, and then:
#   1. generates the sample network's keys and certificates (network-config/network.yaml),
#   2. creates the genesis block of the solo channel `devchannel`,
#   3. starts a solo orderer and one peer per hospital (endorser and committer, mutual TLS,
#      operations endpoints), with the example chaincode (Examples/asset-transfer) installed,
#   4. approves and commits the chaincode definitions (_lifecycle) as each hospital's admin,
#   5. submits a transaction through HospitalA's gateway and reads it back on HospitalB's peer,
#   6. stores the patient's FHIR Patient resource and an Observation as HospitalA's operator
#      (encrypted off the chain in the peer's embedded store, anchored on the chain), reads one back
#      as the patient, shows that another hospital's lab technician is refused, and prints the
#      patient's audit trail as a table,
#   7. runs a 30-second `medrex bench run` (blind writes, 1,024 clients) and prints its report,
# and stops everything it started, also on Ctrl-C. Everything lives under run/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

medrex_require_packages "${MEDREX_PACKAGES[@]}" curl

swift build -c release --product medrex
medrex="$(swift build -c release --show-bin-path)/medrex"

run="$PWD/run"
mkdir -p "$run"
rm -rf "$run/nodes"
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
# Every node's file is rendered from network.yaml (medrex network render) into run/nodes/HOST/,
# beside the channel's genesis block.
nodes="$run/nodes/127.0.0.1"
mkdir -p "$nodes"
"$medrex" channel create --config network-config/network.yaml --channel devchannel --crypto "$run/crypto" --output "$nodes/devchannel.block"

echo "== 3. orderer and peers"
# The solo orderer and one peer per hospital, endorsing and committing, with the example and the
# built-in chaincodes and the PHI service (HospitalA's store may be PostgreSQL: scripts/bench-phi.sh).
render=(--channel devchannel --crypto "$run/crypto" --phi)
for name in asset-transfer kv accounts counters phi access audit clinical vitals; do render+=(--chaincode "$name:1.0"); done
if [ -n "${MEDREX_PHI_POSTGRES:-}" ]; then render+=(--phi-postgres "HospitalA=$MEDREX_PHI_POSTGRES" --phi-postgres-ca "$MEDREX_PHI_POSTGRES_CA"); fi
# HospitalA's custodian key in a PKCS#11 token (scripts/bench-phi.sh with MEDREX_PHI_HSM=1).
if [ -n "${MEDREX_PHI_HSM_TOKEN:-}" ]; then render+=(--phi-hsm "HospitalA=$MEDREX_PHI_HSM_TOKEN" --phi-hsm-pin-file "$MEDREX_PHI_HSM_PIN_FILE"); fi
"$medrex" network render --config network-config/network.yaml --output "$run/nodes" --force "${render[@]}" >/dev/null
"$medrex" chaincode install Examples/asset-transfer --data "$nodes/data/peer0-HospitalA" --name asset-transfer
"$medrex" chaincode install Examples/asset-transfer --data "$nodes/data/peer0-HospitalB" --name asset-transfer
"$medrex" orderer start --config "$nodes/orderer0.yaml" >"$run/orderer0.log" 2>&1 &
pids+=($!)
for peer in peer0-HospitalA peer0-HospitalB; do
    "$medrex" peer start --config "$nodes/$peer.yaml" >"$run/$peer.log" 2>&1 &
    pids+=($!)
done
for port in 9440 9443 9445; do
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
        sleep 0.2
    done
    echo "  127.0.0.1:$port/healthz: $(curl -s "http://127.0.0.1:$port/healthz")"
done

as() { # ORG USER PEER_ORG PEER_PORT: the gateway options of a caller
    echo --crypto "$run/crypto" --org "$1" --msp-id "$1MSP" --user "$2" --peer-org "$3" --peer "127.0.0.1:$4" --channel devchannel
}

echo "== 4. chaincode definitions: each hospital's admin approves, then one commits (_lifecycle)"
for name in asset-transfer kv accounts counters phi access audit clinical vitals; do
    "$medrex" chaincode approve $(as HospitalA admin HospitalA 7051) --name "$name" --version 1.0 --sequence 1
    "$medrex" chaincode approve $(as HospitalB admin HospitalB 8051) --name "$name" --version 1.0 --sequence 1
    "$medrex" chaincode commit $(as HospitalA admin HospitalA 7051) --name "$name" --version 1.0 --sequence 1
done

echo "== 5. a transaction through HospitalA's gateway, read back from HospitalB's peer"
"$medrex" chaincode invoke $(as HospitalA dr-carter HospitalA 7051) --name asset-transfer create asset-1 alice 300
query=("$medrex" chaincode query --crypto "$run/crypto" --org HospitalB --msp-id HospitalBMSP --user lab-tech-lee
       --peer-org HospitalB --peer 127.0.0.1:8051 --channel devchannel --name asset-transfer)
echo "  read asset-1 on HospitalB's peer: $("${query[@]}" read asset-1)"
echo "  listByOwner alice: $("${query[@]}" listByOwner alice)"

echo "== 6. PHI: stored encrypted off the chain, anchored on it; every access decided and audited on the chain"
alice="HospitalAMSP/patient-alice@hospital-a.medrex.example"
"$medrex" phi put $(as HospitalA operator-olsen HospitalA 7051) --patient "$alice" --file Examples/phi/patient.json
"$medrex" phi put $(as HospitalA operator-olsen HospitalA 7051) --patient "$alice" --file Examples/phi/observation-blood-pressure.json
"$medrex" phi get $(as HospitalA patient-alice HospitalA 7051) --record bp-alice-0001 --output "$run/bp-alice-0001.json"
echo "  HospitalB's lab technician asks for the same record:"
if "$medrex" phi get $(as HospitalB lab-tech-lee HospitalA 7051) --record bp-alice-0001 --output /dev/null; then
    echo "  ... and was served: the access rules are broken" >&2
    exit 1
fi
echo "  the patient's audit trail:"
"$medrex" audit query $(as HospitalA patient-alice HospitalA 7051) --patient "$alice"

if [ -n "${MEDREX_BENCH_ARGS:-}" ]; then
    # scripts/bench-*.sh: another bench on the same network.
    echo "== 7. medrex bench run $MEDREX_BENCH_ARGS"
    # shellcheck disable=SC2086
    "$medrex" bench run --crypto "$run/crypto" --peer 127.0.0.1:7051 --channel devchannel $MEDREX_BENCH_ARGS
else
    echo "== 7. medrex bench run: blind writes (kv put) for ${MEDREX_BENCH_SECONDS:-30} s, 1024 clients, streaming API"
    "$medrex" bench run --crypto "$run/crypto" --peer 127.0.0.1:7051 --channel devchannel --workload put \
        --clients 1024 --duration "${MEDREX_BENCH_SECONDS:-30}" --quiet
fi
echo
echo "Logs: $run/orderer0.log, $run/peer0-HospitalA.log, $run/peer0-HospitalB.log. Stopping the orderer and the peers."
