#!/usr/bin/env bash
# The README's test command: installs missing packages, builds (Release), runs the whole test
# suite, then builds and runs the suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Set XFMR_SKIP_ASAN=1 to skip the sanitizer pass during development.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"
if [ "${XFMR_SKIP_ASAN:-0}" != "1" ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs"
fi
echo "xfmr: all tests passed"
