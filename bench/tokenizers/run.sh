#!/usr/bin/env bash
# Tokenizer throughput: xfmr vs HuggingFace's Rust tokenizers (through the @anush008/tokenizers
# Node binding), on WikiText-2's train split, single-threaded and batch-parallel on 2 threads, for
# bert-base-uncased, gpt2 and t5-small. Prints MB/s and tokens/s of both and the ratio.
#
#   bench/tokenizers/run.sh [BUILD_DIR] [REPEATS]
#
# BUILD_DIR (default: build) must contain bench_tokenizers (configure with XFMR_BUILD_BENCH=ON).
# Shared files are read from ../shared next to the repo (override with XFMR_SHARED_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
repeats=${2:-3}
shared=${XFMR_SHARED_DIR:-$root/../shared}
input=$shared/assets/wikitext-2/train.txt
bench=$build/bench_tokenizers
[ -x "$bench" ] || bench=$(find "$build" -name bench_tokenizers -type f -perm -u+x | head -n 1)
[ -x "$bench" ] || { echo "bench_tokenizers not found under $build (build it with -DXFMR_BUILD_BENCH=ON)" >&2; exit 1; }
[ -f "$input" ] || { echo "missing $input" >&2; exit 1; }
if [ ! -d "$here/node/node_modules/@anush008/tokenizers" ]; then
  (cd "$here/node" && npm install --no-audit --no-fund --silent)
fi

echo "input: $input ($(wc -c <"$input") bytes, $(wc -l <"$input") lines); one encode per line, special tokens added"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-24s %-7s %12s %14s %12s %14s %8s\n' tokenizer threads "xfmr MB/s" "xfmr tok/s" "HF MB/s" "HF tok/s" ratio
for name in google-bert--bert-base-uncased openai-community--gpt2 google-t5--t5-small; do
  dir=$shared/assets/hf/$name
  for threads in 1 2; do
    ours=$(OMP_NUM_THREADS=$threads "$bench" "$dir" "$input" "$threads" "$repeats")
    theirs=$(cd "$here/node" && RAYON_NUM_THREADS=$threads node bench_hf.js "$dir/tokenizer.json" "$input" "$repeats")
    python3 - "$name" "$threads" "$ours" "$theirs" <<'PY'
import json, sys
name, threads, a, b = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
mbs = lambda r: r["bytes"] / r["seconds"] / 1e6
tps = lambda r: r["tokens"] / r["seconds"]
note = "" if a["tokens"] == b["tokens"] else f"  (token counts differ: {a['tokens']} vs {b['tokens']})"
print(f"{name.split('--')[1]:<24} {threads:<7} {mbs(a):12.2f} {tps(a):14.0f} {mbs(b):12.2f} {tps(b):14.0f} {b['seconds']/a['seconds']:7.2f}x{note}")
PY
  done
done
