#!/usr/bin/env bash
# The README's main-job command: installs missing packages, builds the xfmr CLI (Release) and runs
# it with the given arguments, e.g.  scripts/run.sh info
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/deps.sh"
(cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target xfmr -j "$(nproc)" >/dev/null)
exec "$root/build/xfmr" "$@"
