#!/usr/bin/env bash
# Model benchmarks for docs/performance-models.md: writes random BERT-base / GPT-2 small checkpoints
# (real sizes, HF init) once, then measures in separate processes (so each peak RSS is its own):
# load time (warm page cache), encoder latency (1 x 128, 2 threads and 1 thread, batch 8), greedy
# decode tokens/s with the KV cache, and peak RSS relative to the weight bytes.
# Usage: bench/models/run.sh [--build-dir DIR] [--data DIR] [--quick]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build-models"
data="${TMPDIR:-/tmp}/xfmr-bench-models"
iters=30
new=128
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --quick) iters=5; new=32; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--data DIR] [--quick]" >&2; exit 2 ;;
  esac
done
bin="$build/bench/xfmr_bench_models"
[ -x "$bin" ] || { echo "build $bin first (ninja -C $build xfmr_bench_models)" >&2; exit 1; }
export OMP_PROC_BIND=close OMP_PLACES=cores
mkdir -p "$data"
for arch in bert-base gpt2-small; do
  [ -f "$data/$arch/model.safetensors" ] || "$bin" write --arch "$arch" --out "$data/$arch"
  cat "$data/$arch/model.safetensors" > /dev/null   # warm page cache
done
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" load "$data/bert-base" --repeat 5
"$bin" load "$data/bert-base" --repeat 5 --no-prefault
"$bin" load "$data/gpt2-small" --repeat 5
"$bin" encode "$data/bert-base" --threads 2 --batch 1 --seq 128 --iters "$iters"
"$bin" encode "$data/bert-base" --threads 1 --batch 1 --seq 128 --iters "$iters"
"$bin" encode "$data/bert-base" --threads 2 --batch 1 --seq 16 --iters "$iters"
"$bin" encode "$data/bert-base" --threads 2 --batch 8 --seq 128 --iters $(( iters / 5 + 1 ))
"$bin" decode "$data/gpt2-small" --threads 2 --prompt 16 --new "$new"
"$bin" decode "$data/gpt2-small" --threads 1 --prompt 16 --new "$new"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
