#!/usr/bin/env bash
# Measures contention reduction: valid TPS of `medrex bench run` for the `transfer` workload (1,000
# accounts, 512 clients) and the `hot` workload (10 accounts, 256 clients) on a solo network with one
# peer per hospital (as scripts/quickstart.sh starts it), with the orderer's dependency reordering
# and the gateway's early abort switched on or off:
#
#   MEDREX_REORDER=true MEDREX_EARLY_ABORT=true scripts/bench-contention.sh [transfer|hot ...]
#
#   MEDREX_REORDER        the channel's reorderBlocks (default false)
#   MEDREX_EARLY_ABORT    peer.yaml earlyAbort of both peers (default false)
#   MEDREX_IDLE_CUT       the channel's batch idleTimeout, e.g. 2ms (default: none)
#   MEDREX_BENCH_SECONDS  seconds per workload (default 20)
#   MEDREX_BENCH_CLIENTS  client counts to run each workload at, e.g. "64 256 512 1024"
#                         (default 512 for transfer and put, 256 for hot)
#   MEDREX_BATCH_TIMEOUT  the channel's batch timeout (default 250ms, as network-config/network.yaml)
#   MEDREX_BENCH_API      stream (medrex.TransactionStream, default) or unary (Fabric Gateway calls)
#   MEDREX_DELTA_WRITES   true: transfer and hot move amounts as commutative delta writes
#                         (`medrex bench run --delta-writes`, chaincode counters; default false)
#   MEDREX_PEERS          1: stop HospitalB's peer once the chaincodes are defined, so the bench
#                         runs on one orderer and one peer, as Fabric's figures were measured
#                         (default 2: both peers commit every block)
#   MEDREX                the medrex binary (default .build/release/medrex)
#
# Everything lives in a fresh directory under /tmp (tmpfs when there is one) and every process it
# starts is stopped by PID when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
medrex="$(cd "$(dirname "${MEDREX:-.build/release/medrex}")" && pwd)/$(basename "${MEDREX:-.build/release/medrex}")"
[ -x "$medrex" ] || { echo "no $medrex: run swift build -c release --product medrex (or set MEDREX)" >&2; exit 1; }
reorder="${MEDREX_REORDER:-false}"
early="${MEDREX_EARLY_ABORT:-false}"
idle="${MEDREX_IDLE_CUT:-}"
seconds="${MEDREX_BENCH_SECONDS:-20}"
timeout="${MEDREX_BATCH_TIMEOUT:-250ms}"
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(transfer hot)

base=/tmp
[ -d /dev/shm ] && base=/dev/shm
run="$(mktemp -d "$base/medrex-bench-contention-XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# network-config/network.yaml's devchannel with the batch timeout asked for; the nodes' files are
# rendered from it (medrex network render) with the switches asked for, beside the genesis block.
# The ordering switches are the channel's (network.yaml), not the orderer's.
sed -e "s/timeout: 250ms/timeout: $timeout/" network-config/network.yaml >"$run/network.yaml"
if [ -n "$idle" ]; then
    sed -i -e "s/^\( *\)timeout: $timeout\$/&\n\1idleTimeout: $idle/" "$run/network.yaml"
fi
if [ "$reorder" = true ]; then
    sed -i -e "/^  - name: devchannel/a\    reorderBlocks: true" "$run/network.yaml"
fi
"$medrex" crypto generate --config "$run/network.yaml" --output "$run/crypto" --force >/dev/null
nodes="$run/nodes/127.0.0.1"
mkdir -p "$nodes"
"$medrex" channel create --config "$run/network.yaml" --channel devchannel --crypto "$run/crypto" --output "$nodes/devchannel.block" >/dev/null
render=(--channel devchannel --crypto "$run/crypto" --chaincode kv:1.0 --chaincode accounts:1.0 --chaincode counters:1.0
        --peer-setting "earlyAbort=$early")
"$medrex" network render --config "$run/network.yaml" --output "$run/nodes" "${render[@]}" >/dev/null
# The channel's orderer and peer addresses and operations ports are network.yaml's.
"$medrex" orderer start --config "$nodes/orderer0.yaml" >"$run/orderer0.log" 2>&1 &
pids+=($!)
for peer in peer0-HospitalA peer0-HospitalB; do
    "$medrex" peer start --config "$nodes/$peer.yaml" >"$run/$peer.log" 2>&1 &
    pids+=($!)
done
for port in 9440 9443 9445; do
    for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
done
as() { echo --crypto "$run/crypto" --org "$1" --msp-id "$1MSP" --user admin --peer-org "$2" --peer "127.0.0.1:$3" --channel devchannel; }
for name in kv accounts counters; do
    "$medrex" chaincode approve $(as HospitalA HospitalA 7051) --name "$name" --version 1.0 --sequence 1 >/dev/null
    "$medrex" chaincode approve $(as HospitalB HospitalB 8051) --name "$name" --version 1.0 --sequence 1 >/dev/null
    "$medrex" chaincode commit $(as HospitalA HospitalA 7051) --name "$name" --version 1.0 --sequence 1 >/dev/null
done

if [ "${MEDREX_PEERS:-2}" = 1 ]; then
    kill -TERM "${pids[2]}"; wait "${pids[2]}" 2>/dev/null || true
fi

echo "== ${MEDREX_PEERS:-2} peer(s), delta writes ${MEDREX_DELTA_WRITES:-false}, reorderBlocks $reorder, earlyAbort $early, batchIdleTimeout ${idle:-none}, batch timeout $timeout, $seconds s per workload; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for workload in "${workloads[@]}"; do
    default=512
    [ "$workload" = hot ] && default=256
    for clients in ${MEDREX_BENCH_CLIENTS:-$default}; do
        deltas=()
        [ "${MEDREX_DELTA_WRITES:-false}" = true ] && [ "$workload" != put ] && deltas=(--delta-writes)
        "$medrex" bench run --crypto "$run/crypto" --peer 127.0.0.1:7051 --channel devchannel --workload "$workload" \
            --clients "$clients" --duration "$seconds" --api "${MEDREX_BENCH_API:-stream}" --quiet "${deltas[@]}"
    done
done
