#!/usr/bin/env bash
# The tutorial language model, PyTorch vs xfmr, same data / hyper-parameters / thread count, one
# after the other: prints training tokens/s of both and the ratio (and per-epoch validation + test
# perplexity with --full).
#
#   bench/lm/run.sh                         # 2 threads, first 300 batches of epoch 1, no evaluation
#   bench/lm/run.sh --epochs 3 --full       # the whole comparison: 3 epochs, val ppl per epoch, test ppl
#   options: --threads N  --max-batches N  --tokenization basic_english|whitespace  --build DIR
#            --seed N  --keep-logs DIR
#
# Builds xfmr (Release) in BUILD (default: build-lm-bench next to the sources). PyTorch runs through
# /usr/bin/python3 (Debian's python3-torch 1.13; bench/lm/torch_lm.py reports the BLAS it loaded).
# WikiText-2 is read from ../shared/assets/wikitext-2 (override with XFMR_SHARED_DIR or --data).
set -euo pipefail
source "$(dirname "$0")/common.sh"  # here, root, shared, data, build; require_wikitext, build_xfmr
threads=2 epochs=1 max_batches=300 full=0 tok=basic_english seed=0 logs=""
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --max-batches) max_batches=$2; shift 2 ;;
    --full) full=1; shift ;;
    --tokenization) tok=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep-logs) logs=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
require_wikitext "$data"
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "/usr/bin/python3 has no torch (apt-get install python3-torch)" >&2; exit 1; }

build_xfmr "$build" "$threads"

common=(--data "$data" --tokenization "$tok" --epochs "$epochs" --threads "$threads" --seed "$seed")
if [ "$full" = 1 ]; then
  max_batches=0
else
  common+=(--no-eval)
fi
common+=(--max-batches "$max_batches")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "config: $tok, epochs $epochs, max batches/epoch ${max_batches/#0/all}, threads $threads, $([ $full = 1 ] && echo 'with evaluation' || echo 'no evaluation')"
echo "== PyTorch: /usr/bin/python3 bench/lm/torch_lm.py ${common[*]}"
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_lm.py" "${common[@]}" | tee "$tmp/torch.log" | grep --line-buffered -v '^RESULT'
echo "== xfmr: xfmr train-lm ${common[*]} --result-json"
OMP_NUM_THREADS=$threads XFMR_NO_PROGRESS=1 "$build/xfmr" train-lm "${common[@]}" --result-json | tee "$tmp/xfmr.log" | grep --line-buffered -v '^RESULT'
[ -n "$logs" ] && mkdir -p "$logs" && cp "$tmp/torch.log" "$tmp/xfmr.log" "$logs/"
python3 - "$tmp/torch.log" "$tmp/xfmr.log" <<'PY'
import json, sys
def result(path):
    for line in open(path):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    sys.exit(f"no RESULT line in {path}")
t, x = result(sys.argv[1]), result(sys.argv[2])
print()
print(f"BLAS used by torch: {t.get('blas')}")
print(f"{'':14} {'PyTorch':>12} {'xfmr':>12} {'ratio':>8}")
print(f"{'tokens/s':14} {t['tokens_per_s']:12.0f} {x['tokens_per_s']:12.0f} {x['tokens_per_s'] / t['tokens_per_s']:7.2f}x")
for et, ex in zip(t["epochs"], x["epochs"]):
    if "val_ppl" in et and "val_ppl" in ex:
        print(f"{'val ppl ep ' + str(et['epoch']):14} {et['val_ppl']:12.2f} {ex['val_ppl']:12.2f} {ex['val_ppl'] / et['val_ppl']:7.3f}")
if "test_ppl" in t and "test_ppl" in x:
    print(f"{'test ppl':14} {t['test_ppl']:12.2f} {x['test_ppl']:12.2f} {x['test_ppl'] / t['test_ppl']:7.3f}")
PY
