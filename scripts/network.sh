#!/usr/bin/env bash
# The sample network of network-config/network.yaml on this machine, one process per node:
#   scripts/network.sh up      generate crypto material if missing, start a 3-member etcd cluster,
#                              3 orderers (channel healthchannel, consensus etcd), HospitalA and
#                              HospitalB with 2 peers each (endorser + committer), install the
#                              example chaincode, approve and commit the definitions of it, of
#                              the built-in kv, accounts and counters chaincodes and of the healthcare
#                              chaincodes (each peer keeps PHI in its embedded store), wait until
#                              all are healthy
#   scripts/network.sh status  each node's health and channel height
#   scripts/network.sh down    stop exactly the processes `up` started (by PID), none left behind
# Everything (configuration rendered by `medrex network render`, data, logs, PIDs) lives under
# $MEDREX_NETWORK_DIR (default run/network). `up` builds medrex in release mode first; MEDREX_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

dir="${MEDREX_NETWORK_DIR:-$PWD/run/network}"
channel=healthchannel
pids_file="$dir/pids"

medrex_bin() {
    if [ -n "${MEDREX_BIN:-}" ]; then echo "$MEDREX_BIN"; return; fi
    swift build -c release --product medrex >&2
    echo "$(swift build -c release --show-bin-path)/medrex"
}

# name port operations-port per orderer; org name port operations-port per peer (as in
# network-config/network.yaml: for the health checks and status).
orderers=("orderer0 7050 9440" "orderer1 7060 9441" "orderer2 7070 9442")
peers=("HospitalA peer0 7051 9443" "HospitalA peer1 7061 9444" "HospitalB peer0 8051 9445" "HospitalB peer1 8061 9446")

wait_healthy() { # PORT NAME
    for _ in $(seq 1 150); do
        curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0
        sleep 0.2
    done
    echo "$2 (127.0.0.1:$1) did not become healthy; see $dir/logs/$2.log" >&2
    return 1
}

up() {
    medrex_require_packages "${MEDREX_PACKAGES[@]}" curl
    if [ -s "$pids_file" ]; then
        echo "a network is already up under $dir (scripts/network.sh down first)" >&2
        exit 1
    fi
    local medrex
    medrex="$(medrex_bin)"
    mkdir -p "$dir/logs"
    : >"$pids_file"
    trap 'echo "up failed; stopping what was started" >&2; down' ERR

    [ -d "$dir/crypto" ] || "$medrex" crypto generate --config network-config/network.yaml --output "$dir/crypto"
    [ -f "$dir/crypto/OrdererOrg/etcd/etcd0/tls/cert.crt" ] || {
        echo "the crypto material in $dir/crypto has no etcd TLS certificates (it predates etcd over TLS): run down, remove $dir, and up again" >&2
        exit 1
    }
    [ -f "$dir/$channel.block" ] || "$medrex" channel create --config network-config/network.yaml --channel "$channel" \
        --crypto "$dir/crypto" --output "$dir/$channel.block"

    # Every node's configuration and the start script come from network.yaml (`medrex network
    # render`); on one machine all nodes are on host 127.0.0.1, so its directory is this one.
    local chaincodes=() definition
    for definition in asset-transfer kv accounts counters phi access audit clinical vitals; do chaincodes+=(--chaincode "$definition:1.0"); done
    rm -rf "$dir/rendered"
    "$medrex" network render --config network-config/network.yaml --output "$dir/rendered" --channel "$channel" "${chaincodes[@]}" --phi >/dev/null
    cp "$dir/rendered/127.0.0.1/"* "$dir/"
    rm -rf "$dir/rendered"
    local entry name org node port ops
    for entry in "${peers[@]}"; do
        read -r org node port ops <<<"$entry"
        name="$node-$org"
        [ -f "$dir/data/$name/chaincodes/asset-transfer.so" ] ||
            "$medrex" chaincode install Examples/asset-transfer --data "$dir/data/$name" --name asset-transfer >/dev/null
    done
    # etcd (waited for), then the orderers and the peers; their PIDs go to $pids_file.
    MEDREX_BIN="$medrex" bash "$dir/start.sh"
    for entry in "${orderers[@]}"; do read -r name port ops <<<"$entry"; wait_healthy "$ops" "$name"; done
    for entry in "${peers[@]}"; do read -r org node port ops <<<"$entry"; wait_healthy "$ops" "$node-$org"; done

    # Chaincode definitions: approved by each hospital's admin, then committed (once per network).
    for definition in asset-transfer kv accounts counters phi access audit clinical vitals; do
        if "$medrex" chaincode query --crypto "$dir/crypto" --org HospitalA --msp-id HospitalAMSP --user admin \
            --peer-org HospitalA --peer 127.0.0.1:7051 --channel "$channel" --name _lifecycle definition "$definition" >/dev/null 2>&1; then
            continue
        fi
        for org in HospitalA HospitalB; do
            port=$([ "$org" = HospitalA ] && echo 7051 || echo 8051)
            "$medrex" chaincode approve --crypto "$dir/crypto" --org "$org" --msp-id "${org}MSP" --user admin --peer-org "$org" \
                --peer "127.0.0.1:$port" --channel "$channel" --name "$definition" --version 1.0 --sequence 1 >/dev/null
        done
        "$medrex" chaincode commit --crypto "$dir/crypto" --org HospitalA --msp-id HospitalAMSP --user admin --peer-org HospitalA \
            --peer 127.0.0.1:7051 --channel "$channel" --name "$definition" --version 1.0 --sequence 1 >/dev/null
    done
    trap - ERR
    status
    echo "network up under $dir; gateway peers: 127.0.0.1:7051 (HospitalA), 127.0.0.1:8051 (HospitalB)"
}

status() {
    [ -s "$pids_file" ] || { echo "no network is up under $dir"; return 0; }
    local name pid ops health height
    while read -r name pid; do
        ops=""
        for entry in "${orderers[@]}" "${peers[@]}"; do
            set -- $entry
            if [ "$#" -eq 3 ] && [ "$1" = "$name" ]; then ops=$3; fi
            if [ "$#" -eq 4 ] && [ "$2-$1" = "$name" ]; then ops=$4; fi
        done
        if ! kill -0 "$pid" 2>/dev/null; then
            printf '%-18s pid %-8s stopped\n' "$name" "$pid"
            continue
        fi
        if [ -z "$ops" ]; then
            printf '%-18s pid %-8s running\n' "$name" "$pid"
            continue
        fi
        health=$(curl -s "http://127.0.0.1:$ops/healthz" || echo unreachable)
        height=$(curl -s "http://127.0.0.1:$ops/metrics" | grep -E "^medrex_(ledger|orderer)_height_blocks\{channel=\"$channel\"\}" | awk '{print $2}' | head -1)
        printf '%-18s pid %-8s height %-8s %s\n' "$name" "$pid" "${height:-?}" "$health"
    done <"$pids_file"
}

down() {
    [ -s "$pids_file" ] || { echo "no network is up under $dir"; return 0; }
    local name pid
    # Peers first, then orderers, then etcd: the reverse of the start order.
    tac "$pids_file" | while read -r name pid; do kill -TERM "$pid" 2>/dev/null || true; done
    tac "$pids_file" | while read -r name pid; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$name (pid $pid) did not stop on SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    : >"$pids_file"
    echo "network under $dir stopped"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: scripts/network.sh up|down|status" >&2; exit 2 ;;
esac
