#!/usr/bin/env bash
# PHI throughput with PostgreSQL: starts a throwaway PostgreSQL 15 server on loopback (initdb into
# a temporary directory, fsync on, as the `postgres` user when run as root), then the quickstart's
# network with HospitalA's peer keeping its records in that server over TLS (a throwaway CA issues
# the server's certificate for 127.0.0.1; the server refuses plaintext TCP), and runs
#   medrex bench run --workload phi   (a record stored by an operator, then read back by the
#                                      patient: access request committed and audited, release,
#                                      decryption and hash check)
# with MEDREX_PHI_CLIENTS clients (default 16) for MEDREX_BENCH_SECONDS (default 30). With
# MEDREX_PHI_HSM=1, HospitalA's custodian key is in a SoftHSM token made for the run (a PKCS#11
# token; the key never leaves it) instead of a PEM file. Everything it started is stopped at the
# end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
medrex_require_packages "${MEDREX_PACKAGES[@]}" curl

bin=/usr/lib/postgresql/15/bin
dir="$(mktemp -d /tmp/medrex-phi-postgres.XXXXXX)"
port="${MEDREX_PHI_POSTGRES_PORT:-55432}"
tls="$dir/tls"
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/ca-key.pem" -subj "/CN=bench-postgres-ca" -days 2 \
    -out "$tls/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/server-key.pem" -subj "/CN=postgres" -out "$tls/server.csr" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" >"$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -days 2 -extfile "$tls/server.ext" \
    -out "$tls/server.pem" 2>/dev/null
chmod 600 "$tls/server-key.pem"
as_postgres=()
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$dir"
    as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
"${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log"
# TLS only on TCP: trust on the Unix socket (createdb below), hostssl on loopback, plaintext refused.
printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 trust" "hostnossl all all 0.0.0.0/0 reject" >"$dir/data/pg_hba.conf"
"${as_postgres[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 -c max_connections=60 \
    -c ssl=on -c "ssl_cert_file=$tls/server.pem" -c "ssl_key_file=$tls/server-key.pem" -c ssl_min_protocol_version=TLSv1.2 \
    >"$dir/postgres.log" 2>&1 &
postgres_pid=$!
cleanup() {
    kill -TERM "$postgres_pid" 2>/dev/null || true
    wait "$postgres_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q && break
    sleep 0.2
done
"$bin/createdb" -h "$dir" -p "$port" -U postgres medrex_phi

if [ "${MEDREX_PHI_HSM:-0}" = 1 ]; then
    mkdir -p "$dir/softhsm/tokens"
    printf '%s\n' "directories.tokendir = $dir/softhsm/tokens" "objectstore.backend = file" "log.level = ERROR" >"$dir/softhsm/softhsm2.conf"
    export SOFTHSM2_CONF="$dir/softhsm/softhsm2.conf"
    softhsm2-util --init-token --free --label HospitalA-PHI --pin 4711-bench --so-pin 0815-bench >/dev/null
    printf '%s\n' 4711-bench >"$dir/softhsm/pin"
    export MEDREX_PHI_HSM_TOKEN=HospitalA-PHI MEDREX_PHI_HSM_PIN_FILE="$dir/softhsm/pin"
fi
export MEDREX_PHI_POSTGRES="postgres://postgres@127.0.0.1:$port/medrex_phi" MEDREX_PHI_POSTGRES_CA="$tls/ca.pem"
export MEDREX_BENCH_ARGS="--workload phi --user operator-olsen --reader patient-alice --clients ${MEDREX_PHI_CLIENTS:-16} --duration ${MEDREX_BENCH_SECONDS:-30} ${MEDREX_BENCH_EXTRA:-}"
bash scripts/quickstart.sh
