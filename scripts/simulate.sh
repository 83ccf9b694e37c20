#!/usr/bin/env bash
# Seeded simulations of a whole network in one process (Sources/NetworkSimulation): peers of two
# organizations and a solo orderer (or, with --ordering etcd, etcd-chain orderers sharing an
# in-memory etcd) on in-memory storage and a manual clock, with crashes (storage losing its
# unsynchronized tail), partitions, dropped, duplicated, reordered and damaged messages, and with
# etcd, leaders that crash, stall past their lease or are cut off from etcd.
#
#   scripts/simulate.sh --seeds N [--seed FIRST] [--jobs J] [medrex simulate options]
#                                 N seeds from FIRST (default 1), split over J processes
#                                 (default: the number of cores); non-zero when a seed fails
#   scripts/simulate.sh --seed S  one seed: the command a failing run prints to replay it
#
# Builds medrex in release mode (.build, incrementally) unless MEDREX_BIN names a binary.
# Other options go to `medrex simulate` (--steps, --organizations, --peers-per-organization,
# --accounts, --ordering solo|etcd, --orderers, --no-faults, --verbose).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

first=1
count=1
jobs=$(nproc)
passthrough=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) first=$2; shift 2 ;;
        --seeds) count=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        *) passthrough+=("$1"); shift ;;
    esac
done
case "$first$count$jobs" in *[!0-9]*) echo "simulate.sh: --seed, --seeds and --jobs take non-negative integers" >&2; exit 2 ;; esac
[ "$count" -ge 1 ] && [ "$jobs" -ge 1 ] || { echo "simulate.sh: --seeds and --jobs must be at least 1" >&2; exit 2; }

medrex=${MEDREX_BIN:-}
if [ -z "$medrex" ]; then
    swift build -c release --product medrex >&2
    medrex=$root/.build/release/medrex
fi

[ "$jobs" -gt "$count" ] && jobs=$count
per=$(( (count + jobs - 1) / jobs ))
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
start=$first
for job in $(seq 1 "$jobs"); do
    remaining=$(( first + count - start ))
    [ "$remaining" -le 0 ] && break
    n=$(( remaining < per ? remaining : per ))
    "$medrex" simulate --seed "$start" --seeds "$n" ${passthrough[@]+"${passthrough[@]}"} >"$logs/$job.log" 2>&1 &
    pids+=($!)
    start=$(( start + n ))
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$logs"/*.log
exit $status
