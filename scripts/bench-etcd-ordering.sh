#!/usr/bin/env bash
# Measures the ordering service: envelopes/s Broadcast → Deliver with the solo orderer, then with
# three orderer processes over a throwaway 3-member etcd cluster (consensus etcd), and the time from
# SIGKILLing the etcd leader-orderer to the next block.
#
#   scripts/bench-etcd-ordering.sh [extra `medrex bench order` options, e.g. --envelopes 50000]
#
# Uses .build/release/medrex (build it with `swift build -c release --product medrex`), or the
# binary in $MEDREX. etcd runs on tmpfs (/dev/shm) when there is one, on free loopback ports, and is
# stopped by PID when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
medrex_require_packages etcd-server

medrex="${MEDREX:-.build/release/medrex}"
[ -x "$medrex" ] || { echo "no $medrex: run swift build -c release --product medrex (or set MEDREX)" >&2; exit 1; }

base=/tmp
[ -d /dev/shm ] && base=/dev/shm
data="$(mktemp -d "$base/medrex-bench-etcd-XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$data"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
client_ports=(); peer_ports=(); metrics_ports=()
for i in 0 1 2; do client_ports+=("$(free_port)"); peer_ports+=("$(free_port)"); metrics_ports+=("$(free_port)"); done
# etcd over mutual TLS only: a throwaway CA issues the members' certificate (for 127.0.0.1) and the
# orderers' client certificate; `medrex bench order --etcd-tls` reads ca.pem, client.pem, client-key.pem.
tls="$data/tls"
mkdir -p "$tls"
issue() { # NAME EXTENSIONS: a P-256 key and a certificate from the CA
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$1-key.pem" -subj "/CN=$1" -out "$tls/$1.csr" 2>/dev/null
    printf '%s\n' "$2" >"$tls/$1.ext"
    openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -days 2 -extfile "$tls/$1.ext" -out "$tls/$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/ca-key.pem" -subj "/CN=bench-etcd-ca" -days 2 -out "$tls/ca.pem" 2>/dev/null
issue member "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
issue client "extendedKeyUsage=clientAuth"
cluster=""
for i in 0 1 2; do cluster+="${cluster:+,}e$i=https://127.0.0.1:${peer_ports[$i]}"; done
for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$data/e$i" \
        --listen-client-urls "https://127.0.0.1:${client_ports[$i]}" --advertise-client-urls "https://127.0.0.1:${client_ports[$i]}" \
        --listen-peer-urls "https://127.0.0.1:${peer_ports[$i]}" --initial-advertise-peer-urls "https://127.0.0.1:${peer_ports[$i]}" \
        --listen-metrics-urls "http://127.0.0.1:${metrics_ports[$i]}" \
        --cert-file "$tls/member.pem" --key-file "$tls/member-key.pem" --client-cert-auth --trusted-ca-file "$tls/ca.pem" \
        --peer-cert-file "$tls/member.pem" --peer-key-file "$tls/member-key.pem" --peer-client-cert-auth --peer-trusted-ca-file "$tls/ca.pem" \
        --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "bench-$$" \
        --logger zap --log-outputs stderr >"$data/e$i.log" 2>&1 &
    pids+=($!)
done
endpoints="127.0.0.1:${client_ports[0]},127.0.0.1:${client_ports[1]},127.0.0.1:${client_ports[2]}"
for i in 0 1 2; do
    for _ in $(seq 200); do
        curl -fsS "http://127.0.0.1:${metrics_ports[$i]}/health" 2>/dev/null | grep -q '"true"' && break
        sleep 0.1
    done
done
echo "etcd cluster: $endpoints (data on $base)"

"$medrex" bench order --consensus solo "$@"
"$medrex" bench order --consensus etcd --etcd-endpoints "$endpoints" --etcd-tls "$tls" "$@"
