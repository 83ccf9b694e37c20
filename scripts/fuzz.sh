#!/usr/bin/env bash
# Builds and runs Medrex's libFuzzer targets (Fuzz/README.md says how they are built and why).
#
#   scripts/fuzz.sh list                 the targets
#   scripts/fuzz.sh TARGET SECONDS       build (incrementally) and fuzz TARGET for SECONDS seconds
#   scripts/fuzz.sh smoke SECONDS        every target for SECONDS seconds each; non-zero on a crash
#   scripts/fuzz.sh build [TARGET...]    build only
#   scripts/fuzz.sh seeds [TARGET...]    regenerate the generated seeds into Fuzz/Seeds/TARGET
#   scripts/fuzz.sh repro TARGET FILE    run one input (a crash file) and show the trap
#   scripts/fuzz.sh network SECONDS      start a small network (solo orderer, two peers) in a temp
#                                        directory, send it mutated requests on every gRPC method
#                                        for SECONDS seconds with liveness checks, stop it
#
# Everything is built in .build-fuzz (MEDREX_FUZZ_BUILD_PATH; MEDREX_FUZZ_CONFIGURATION=debug for
# a quicker build), at nice 19 with one job
# (MEDREX_FUZZ_JOBS); the working corpus is .build-fuzz/corpus/TARGET, crash files go to
# .build-fuzz/artifacts/TARGET/. Extra libFuzzer flags: MEDREX_FUZZ_FLAGS="-use_value_profile=1".
# MEDREX_FUZZ_SKIP_BUILD=1 runs a target as last built (for runs in parallel).
# MEDREX_FUZZ_ORACLES=1 turns on the targets' invariant checks (see Fuzz/README.md).
# The network mode builds medrex (debug) in .build-netfuzz (MEDREX_NETFUZZ_BUILD_PATH) or runs
# MEDREX_BIN; MEDREX_NETFUZZ_SEED fixes its seed, MEDREX_NETFUZZ_ARGS adds `medrex fuzz-network`
# options (e.g. "--concurrency 8"), MEDREX_NETFUZZ_KEEP=1 keeps its directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/lib.sh

build_path=${MEDREX_FUZZ_BUILD_PATH:-$root/.build-fuzz}
jobs=${MEDREX_FUZZ_JOBS:-1}
# The package's library modules are built once, instrumented for libFuzzer (coverage counters and
# comparison tracing) and with testable imports; only NetworkSimulation is asked for, which needs every
# module the fuzz targets import, and no executable is linked.
# MEDREX_FUZZ_CONFIGURATION=debug builds them unoptimized: much quicker to build from scratch
# (CI's smoke run), slower to fuzz.
configuration=${MEDREX_FUZZ_CONFIGURATION:-release}
swift_flags=(-c "$configuration" --build-path "$build_path" -j "$jobs" -Xswiftc -sanitize=fuzzer -Xswiftc -enable-testing)
vectors=$root/Tests/Fixtures/fabric-vectors

targets() { (cd Fuzz/Targets && ls -1 *.swift | sed 's/\.swift$//'); }

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
}

# Runs a command at nice 19 and keeps all its descendants there: SwiftPM starts its compiler
# processes at the default priority whatever its own is.
niced() {
    nice -n 19 "$@" &
    local pid=$!
    (
        while kill -0 "$pid" 2>/dev/null; do
            ps -eo pid=,ppid=,ni= | awk -v root="$pid" '
                { parent[$1] = $2; nice[$1] = $3 }
                END { for (p in parent) { q = p; while ((q in parent) && q != root && q > 1) q = parent[q]; if (q == root && nice[p] < 19) print p } }' |
                xargs -r renice -n 19 -p >/dev/null 2>&1 || true
            sleep 1
        done
    ) &
    local watcher=$!
    local status=0
    wait "$pid" || status=$?
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
    return "$status"
}

# The instrumented library modules (incremental).
build_modules() {
    medrex_require_packages librocksdb-dev python3
    echo "== building the instrumented modules in $build_path (nice 19, -j $jobs)" >&2
    niced swift build "${swift_flags[@]}" --target NetworkSimulation >&2
}

bin_path() { swift build "${swift_flags[@]}" --show-bin-path 2>/dev/null; }

# The flags to compile a file against the package's modules, taken from SwiftPM's own command for
# NetworkSimulation: module search paths, the C modules' module maps and the package name that `package`
# declarations need (SwiftPM derives it from the package's directory name).
write_compile_flags() {
    local manifest=$build_path/$configuration.yaml out=$1 link_out=$2
    python3 - "$manifest" "$out" "$link_out" <<'PY'
import json, sys
manifest, out, link_out = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(manifest).read()

def command(prefix, suffix):
    key = next(line for line in text.splitlines() if line.strip().startswith(prefix) and line.strip().endswith(suffix))
    start = text.index(key)
    return json.loads(text[text.index("args: ", start) + 6:text.index("\n", text.index("args: ", start))])

# The system libraries SwiftPM links executables with (the C targets' linker settings: zlib,
# libstdc++, libm); the chaincode SDK is linked from its objects, not as libChaincode.so.
link = [a for a in command('"C.medrex-', '.exe":') if a.startswith("-l") and a != "-lChaincode"]
open(link_out, "w").write("\n".join(link) + "\n")

args = command('"C.NetworkSimulation-', '.module":')
flags, i = [], 0
while i < len(args):
    a = args[i]
    if a in ("-I", "-package-name", "-module-cache-path"):
        flags += [a, args[i + 1]]; i += 2; continue
    if a == "-Xcc" and i + 1 < len(args):
        b = args[i + 1]
        if b.startswith("-fmodule-map-file=") or b.startswith("-I") or b.startswith("-D"):
            flags += [a, b]
            if b == "-I": flags += [args[i + 2], args[i + 3]]; i += 4; continue
        i += 2; continue
    if a.startswith("-D"):
        flags.append(a)
    i += 1
open(out, "w").write("\n".join(flags) + "\n")
PY
}

# Every object of the library modules and their dependencies (C targets included): not tests,
# not test support, not executables nor host tools. One quoted path a line (a swiftc response
# file: some dependencies' file names have spaces).
write_objects() {
    local bin=$1 out=$2
    (cd "$bin" && find . -mindepth 2 -name '*.o' -path './*.build/*') | sed 's|^\./||' | sort | awk -v bin="$bin" -F/ '
        $1 ~ /(Tests|^TestSupport|^medrex|^LoadGenerator|-tool)\.build$/ { next }
        { if (!($1 in executable)) executable[$1] = (system("test -e \"" bin "/" $1 "/main.swift.o\"") == 0)
          if (!executable[$1]) print "\"" bin "/" $0 "\"" }' >"$out"
}

# Compiles and links one fuzz target if any of its inputs changed.
build_target() {
    local target=$1 bin=$2
    local out=$build_path/fuzz/bin/$target
    local sources=("Fuzz/Targets/$target.swift" Fuzz/Common/*.swift)
    mkdir -p "$build_path/fuzz/bin"
    if [ -x "$out" ] && [ -z "$(find "${sources[@]}" "$build_path/fuzz/objects.txt" "$build_path/fuzz/compile-flags.txt" "$build_path/fuzz/link-flags.txt" -newer "$out" 2>/dev/null | head -1)" ]; then
        return 0
    fi
    echo "== linking fuzz target $target" >&2
    local flags=() libraries=()
    mapfile -t flags <"$build_path/fuzz/compile-flags.txt"
    mapfile -t libraries <"$build_path/fuzz/link-flags.txt"
    # One module per target; `fuzz_` + the name with '-' → '_'.
    local module=fuzz_${target//-/_}
    niced swiftc -O -g -sanitize=fuzzer -parse-as-library -swift-version 6 -module-name "$module" "${flags[@]}" \
        "${sources[@]}" "@$build_path/fuzz/objects.txt" "${libraries[@]}" -lrocksdb -o "$out.tmp" >&2
    mv "$out.tmp" "$out"
}

build() {
    build_modules
    local bin
    bin=$(bin_path)
    mkdir -p "$build_path/fuzz"
    write_compile_flags "$build_path/fuzz/compile-flags.txt.new" "$build_path/fuzz/link-flags.txt.new"
    write_objects "$bin" "$build_path/fuzz/objects.txt.new"
    # Rewritten only when they change, so that targets relink only when needed.
    for file in compile-flags.txt link-flags.txt objects.txt; do
        if cmp -s "$build_path/fuzz/$file.new" "$build_path/fuzz/$file"; then rm "$build_path/fuzz/$file.new"; else mv "$build_path/fuzz/$file.new" "$build_path/fuzz/$file"; fi
    done
    # A module rebuilt by SwiftPM is newer than the binaries: relink everything then.
    if [ -n "$(find "$bin"/*.build -name '*.o' -newer "$build_path/fuzz/objects.txt" 2>/dev/null | head -1)" ]; then
        touch "$build_path/fuzz/objects.txt"
    fi
    local target
    for target in "$@"; do build_target "$target" "$bin"; done
}

check_target() {
    targets | grep -qx -- "$1" || { echo "unknown fuzz target '$1'; scripts/fuzz.sh list" >&2; exit 2; }
}

# Generated seeds (the target writes them itself, see Fuzz/README.md).
seeds() {
    local target=$1
    mkdir -p "Fuzz/Seeds/$target"
    MEDREX_FUZZ_VECTORS=$vectors MEDREX_FUZZ_WRITE_SEEDS=$root/Fuzz/Seeds/$target nice -n 19 "$build_path/fuzz/bin/$target" >&2
}

# libFuzzer options per target (larger inputs for blocks and signed messages).
target_flags() {
    case $1 in
    block) echo "-max_len=65536" ;;
    signed-envelope | signed-proposal) echo "-max_len=16384" ;;
    *) echo "" ;;
    esac
}

# Fuzzes one target; prints the executions, exec/s and any crash file. Returns libFuzzer's status.
#
# The Swift runtime's crash backtracer (on by default on Linux) would take a trap's SIGILL before
# libFuzzer's handler, and the process would die without a crash file: it is off while fuzzing
# (SWIFT_BACKTRACE=enable=no), and a crash file is then run once more with it on, for the trap's
# symbolicated Swift backtrace (file:line).
run() {
    local target=$1 seconds=$2
    local corpus=$build_path/corpus/$target artifacts=$build_path/artifacts/$target log=$build_path/logs/$target.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    [ -n "$(ls -A "Fuzz/Seeds/$target" 2>/dev/null)" ] || seeds "$target"
    echo "== fuzzing $target for $seconds s (corpus $corpus, seeds Fuzz/Seeds/$target, log $log)"
    local status=0
    # shellcheck disable=SC2046
    SWIFT_BACKTRACE=enable=no MEDREX_FUZZ_VECTORS=$vectors nice -n 19 "$build_path/fuzz/bin/$target" \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=4096 \
        -artifact_prefix="$artifacts/" $(target_flags "$target") ${MEDREX_FUZZ_FLAGS:-} \
        "$corpus" "Fuzz/Seeds/$target" >"$log" 2>&1 || status=$?
    local executed rate
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    rate=$(grep -a -o 'exec/s: [0-9]*' "$log" | tail -1 | sed 's/exec\/s: //' || true)
    echo "$target: executions ${executed:-?}, exec/s ${rate:-?} (last status line), exit status $status"
    grep -a -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE))' "$log" | sed "s/^/  /" || true
    local crash
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1 || true)
    if [ -n "$crash" ] || grep -a -q -E '==[0-9]+== ERROR' "$log"; then
        echo "  CRASH: ${crash:-no crash file (see $log)}"
        grep -a -E '==[0-9]+== ERROR|ORACLE|Fatal error|fatal error|SUMMARY' "$log" | head -5 | sed "s/^/  /" || true
        if [ -n "$crash" ] && [ -f "$crash" ]; then
            echo "  Swift backtrace (scripts/fuzz.sh repro $target $crash):"
            repro "$target" "$crash" 2>&1 | grep -a -E 'Fatal error|ORACLE|crashed:|^ *[0-9]+ .* at /|^ *[0-9]+ .*\.swift:[0-9]+' | head -16 | sed "s/^/    /" || true
        fi
    fi
    return "$status"
}

# Runs one input with the Swift backtracer on (and the targets' verbose traces).
repro() {
    SWIFT_BACKTRACE=enable=yes,color=no MEDREX_FUZZ_VECTORS=$vectors MEDREX_FUZZ_VERBOSE=1 "$build_path/fuzz/bin/$1" "$2"
}

# --- The network fuzzer (`medrex fuzz-network`) against a small network of real processes ----

# The medrex binary the network runs: MEDREX_BIN, or a debug build in its own build directory.
network_medrex() {
    if [ -n "${MEDREX_BIN:-}" ]; then echo "$MEDREX_BIN"; return; fi
    local path=${MEDREX_NETFUZZ_BUILD_PATH:-$root/.build-netfuzz}
    echo "== building medrex in $path (nice 19, -j $jobs)" >&2
    niced swift build --product medrex --build-path "$path" -j "$jobs" >&2
    echo "$(swift build --build-path "$path" --show-bin-path)/medrex"
}

# N free loopback TCP ports.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
for s in sockets: s.close()
PY
}

# Stops the processes the network mode started (by PID, peers first), SIGKILL after 30 s;
# says whether any is left.
network_down() {
    local dir=$1 name pid left=0
    [ -s "$dir/pids" ] || return 0
    tac "$dir/pids" | while read -r name pid; do kill -TERM "$pid" 2>/dev/null || true; done
    while read -r name pid; do
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$name (pid $pid) did not stop on SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$dir/pids"
    while read -r name pid; do
        if kill -0 "$pid" 2>/dev/null; then echo "$name (pid $pid) is still running" >&2; left=$((left + 1)); fi
    done <"$dir/pids"
    echo "network stopped: $(wc -l <"$dir/pids") processes started, $left left running"
    : >"$dir/pids"
}

network_wait_healthy() { # PORT NAME DIR
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0
        sleep 0.2
    done
    echo "$2 did not become healthy; end of $3/$2.log:" >&2
    tail -20 "$3/$2.log" >&2
    return 1
}

# Starts a solo orderer and one peer of each hospital (both with the embedded PHI store) on
# free ports under DIR, defines the built-in kv chaincode, and writes DIR/nodes: the
# `medrex fuzz-network` node options.
network_up() {
    local dir=$1 medrex=$2 channel=fuzzchannel
    local ports
    read -r -a ports <<<"$(free_ports 6)"
    : >"$dir/pids"
    cat >"$dir/network.yaml" <<YAML
name: network-fuzz
organizations:
  - name: OrdererOrg
    mspID: OrdererMSP
    domain: orderer.fuzz
    orderers: [{ name: orderer0, port: ${ports[0]}, operationsPort: ${ports[1]} }]
  - name: HospitalA
    mspID: HospitalAMSP
    domain: hospital-a.fuzz
    peers: [{ name: peer0, port: ${ports[2]}, operationsPort: ${ports[3]} }]
    admins: [{ name: admin }]
    users:
      - name: dr-carter
        attributes: { role: consulting_doctor, specialty: cardiology, hospital: HospitalA }
  - name: HospitalB
    mspID: HospitalBMSP
    domain: hospital-b.fuzz
    peers: [{ name: peer0, port: ${ports[4]}, operationsPort: ${ports[5]} }]
    admins: [{ name: admin }]
channels:
  - name: $channel
    organizations: [HospitalA, HospitalB]
    endorsementPolicy: "AND('HospitalAMSP.peer', 'HospitalBMSP.peer')"
    consensus: solo
    batch: { maxMessageCount: 10, timeout: 250ms }
YAML
    "$medrex" crypto generate --config "$dir/network.yaml" --output "$dir/crypto" >/dev/null
    "$medrex" channel create --config "$dir/network.yaml" --channel "$channel" --crypto "$dir/crypto" --output "$dir/$channel.block" >/dev/null
    # Every node's file from network.yaml (medrex network render), beside the genesis block.
    "$medrex" network render --config "$dir/network.yaml" --output "$dir/nodes-config" --crypto "$dir/crypto" \
        --chaincode kv:1.0 --phi >/dev/null
    local config=$dir/nodes-config/127.0.0.1
    cp "$dir/$channel.block" "$config/"
    "$medrex" orderer start --config "$config/orderer0.yaml" >"$dir/orderer0.log" 2>&1 &
    echo "orderer0 $!" >>"$dir/pids"
    local nodes="--orderer orderer0=127.0.0.1:${ports[0]},pid=$!,log=$dir/orderer0.log"
    local index name
    for index in 0 1; do
        name=peer0-$([ "$index" = 0 ] && echo HospitalA || echo HospitalB)
        "$medrex" peer start --config "$config/$name.yaml" >"$dir/$name.log" 2>&1 &
        echo "$name $!" >>"$dir/pids"
        nodes+=" --peer $name=127.0.0.1:${ports[2 + 2 * index]},pid=$!,log=$dir/$name.log"
    done
    network_wait_healthy "${ports[1]}" orderer0 "$dir"
    network_wait_healthy "${ports[3]}" peer0-HospitalA "$dir"
    network_wait_healthy "${ports[5]}" peer0-HospitalB "$dir"
    local step port
    for step in "approve HospitalA ${ports[2]}" "approve HospitalB ${ports[4]}" "commit HospitalA ${ports[2]}"; do
        read -r step org port <<<"$step"
        "$medrex" chaincode "$step" --crypto "$dir/crypto" --org "$org" --msp-id "${org}MSP" --user admin --peer-org "$org" \
            --peer "127.0.0.1:$port" --channel "$channel" --name kv --version 1.0 --sequence 1 >/dev/null
    done
    echo "$nodes" >"$dir/nodes"
    echo "network up under $dir: orderer0 127.0.0.1:${ports[0]}, peer0-HospitalA 127.0.0.1:${ports[2]}, peer0-HospitalB 127.0.0.1:${ports[4]}, channel $channel"
}

# Runs the network fuzzer for SECONDS against a fresh network; exits 1 when a node fails.
network_fuzz() {
    local seconds=$1
    medrex_require_packages curl python3
    local medrex
    medrex=$(network_medrex)
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/medrex-network-fuzz.XXXXXX")
    # Whatever happens, no node outlives the script.
    trap "network_down '$dir'" EXIT
    network_up "$dir" "$medrex"
    local nodes status=0
    read -r -a nodes <<<"$(cat "$dir/nodes")"
    # shellcheck disable=SC2086
    "$medrex" fuzz-network --crypto "$dir/crypto" --org HospitalA --msp-id HospitalAMSP --user dr-carter --channel fuzzchannel \
        "${nodes[@]}" --seconds "$seconds" --seeds "$root/Fuzz/Seeds" --recordings "$dir/recordings" \
        ${MEDREX_NETFUZZ_SEED:+--seed "$MEDREX_NETFUZZ_SEED"} ${MEDREX_NETFUZZ_ARGS:-} || status=$?
    network_down "$dir"
    trap - EXIT
    if [ "$status" -ne 0 ]; then
        echo "network fuzz: FAILED (status $status); recordings and node logs kept in $dir"
        grep -a -h -E 'Fatal error|crashed|Crash|^ *[0-9]+ .* at /' "$dir"/*.log 2>/dev/null | head -30 | sed 's/^/  /' || true
        return "$status"
    fi
    if [ "${MEDREX_NETFUZZ_KEEP:-}" = 1 ]; then echo "network fuzz: kept $dir"; else rm -rf "$dir"; fi
    echo "network fuzz: no node failed"
}

command=${1:-}
case $command in
list)
    targets
    ;;
build)
    shift
    if [ "$#" -eq 0 ]; then mapfile -t all < <(targets); set -- "${all[@]}"; fi
    for target in "$@"; do check_target "$target"; done
    build "$@"
    ;;
seeds)
    shift
    if [ "$#" -eq 0 ]; then mapfile -t all < <(targets); set -- "${all[@]}"; fi
    for target in "$@"; do check_target "$target"; done
    build "$@"
    for target in "$@"; do seeds "$target"; done
    ;;
repro)
    [ "$#" -eq 3 ] || usage
    check_target "$2"
    [ "${MEDREX_FUZZ_SKIP_BUILD:-}" = 1 ] && [ -x "$build_path/fuzz/bin/$2" ] || build "$2"
    repro "$2" "$3"
    ;;
smoke)
    [ "$#" -eq 2 ] || usage
    mapfile -t all < <(targets)
    build "${all[@]}"
    failed=()
    for target in "${all[@]}"; do
        run "$target" "$2" || failed+=("$target")
    done
    if ((${#failed[@]})); then
        echo "smoke: crashes or errors in: ${failed[*]}"
        exit 1
    fi
    echo "smoke: ${#all[@]} targets, no crash"
    ;;
network)
    [ "$#" -eq 2 ] || usage
    network_fuzz "$2"
    ;;
"" | -h | --help | help)
    usage
    ;;
*)
    [ "$#" -eq 2 ] || usage
    check_target "$1"
    # MEDREX_FUZZ_SKIP_BUILD=1: run the binary as built (e.g. several runs in parallel).
    [ "${MEDREX_FUZZ_SKIP_BUILD:-}" = 1 ] && [ -x "$build_path/fuzz/bin/$1" ] || build "$1"
    run "$1" "$2"
    ;;
esac
