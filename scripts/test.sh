#!/usr/bin/env bash
# Runs Medrex's whole test suite on a fresh Debian machine with Swift: installs the system packages
# the tests use, builds, and runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

medrex_require_packages "${MEDREX_PACKAGES[@]}"

swift build --build-tests
if [ "$#" -gt 0 ]; then
    swift test --skip-build "$@"
    exit
fi
# The etcd client's lease and failover tests and the etcd chain's (real etcd leases) need their
# async tasks to run on time. In the parallel run, other suites block the 2-core machine's
# cooperative threads for seconds (child processes, builds of the example plugin), so those suites
# run in a process of their own after. Batch and idle timeouts, reservations and follow deadlines
# are tested on the manual clock (LedgerClock) and run in the parallel pass.
# EndorserConnectionTests joined them in wave 2 (W7): under the parallel pass's load its refused
# connect sometimes surfaced only at the call's 20 s deadline (never when run alone; to be
# understood in W5's connection work).
timed="EtcdClientTests|EtcdChainTests|EtcdConfigUpdateTests|EndorserConnectionTests"
# The membership suites each start whole networks (an orderer, peers, a CA, PostgreSQL) and
# restart processes: run beside the rest they add enough load to make other suites' deadlines
# fire, so they get a process of their own too.
networks="ConfigUpdateEndToEndTests|EnrollmentCAEndToEndTests|SystemChaincodeTests|CertificateRenewalTests|CARegistryTests|PhiCustodyEndToEndTests"
swift test --skip-build --skip "$timed|$networks"
swift test --skip-build --filter "$networks"
swift test --skip-build --filter "$timed"
# A smoke run of every libFuzzer target (a few seconds each, unoptimized build of its own so that
# it builds quickly from scratch); long campaigns are `scripts/fuzz.sh TARGET SECONDS`.
MEDREX_FUZZ_CONFIGURATION=debug MEDREX_FUZZ_BUILD_PATH="$PWD/.build-fuzz-smoke" MEDREX_FUZZ_JOBS=2 bash scripts/fuzz.sh smoke 3
