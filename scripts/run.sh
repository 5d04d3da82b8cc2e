#!/usr/bin/env bash
# The README's main-job command: installs missing packages, builds the xfmr CLI (Release) and runs
# it with the given arguments, e.g.
#   scripts/run.sh pipeline sentiment-analysis "It is great to learn deep learning."
# Build output goes to stderr so that stdout carries only the command's own output (JSON).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/deps.sh"
if [ ! -x "$root/build/xfmr" ]; then echo "xfmr: building the CLI (Release; the first build takes a few minutes)..." >&2; fi
(cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target xfmr -j "$(nproc)" | tail -n 1) >&2
exec "$root/build/xfmr" "$@"
