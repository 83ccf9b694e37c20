#!/usr/bin/env bash
# Runs Medrex's whole test suite on a fresh Debian machine with Swift: installs the system packages
# the tests use, builds, and runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

medrex_require_packages "${MEDREX_PACKAGES[@]}"

swift build --build-tests
swift test --skip-build "$@"
