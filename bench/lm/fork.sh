#!/usr/bin/env bash
# Continues one `xfmr train-lm --save DIR` checkpoint (written at the end of an epoch) for the next
# epoch(s) on both sides, several times: PyTorch with its own generator seeded --seeds, xfmr with a
# fresh generator per seed (xfmr_checkpoint.py reseed). Same weights, same data, other dropout
# masks: the spread of each side's end point is its noise, the distance between the sides is what
# the implementations contribute from that point on.
#
#   bench/lm/fork.sh --checkpoint lm-ckpt --seeds 0,1      # e.g. a checkpoint saved after epoch 2
#   options: --epochs N (last epoch to run; default: the checkpoint's next epoch)  --side both|torch|xfmr
#            --max-batches N (per epoch, for a quick try; 0 = all)  --threads N  --data DIR  --build DIR
#            --logs DIR (default build-lm-bench/fork; runs whose log has the final test line are kept)
#
# Each run is one epoch of the tutorial: about 25 min (PyTorch) and 14 min (xfmr) at 2 threads here.
set -euo pipefail
source "$(dirname "$0")/common.sh"  # here, root, shared, data, build; require_wikitext, build_xfmr
logs=$root/build-lm-bench/fork
checkpoint="" seeds=0,1 side=both threads=2 epochs="" max_batches=0
while [ $# -gt 0 ]; do
  case $1 in
    --checkpoint) checkpoint=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --side) side=$2; shift 2 ;;
    --max-batches) max_batches=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case $side in both|torch|xfmr) ;; *) echo "--side must be both, torch or xfmr, got $side" >&2; exit 2 ;; esac
[ -f "$checkpoint/last/training_state.safetensors" ] ||
  { echo "--checkpoint: no resumable state in '$checkpoint/last' (write one with xfmr train-lm --save)" >&2; exit 2; }
require_wikitext "$data"
mkdir -p "$logs"
py=/usr/bin/python3
next=$(cd "$here" && $py -c "import sys; from xfmr_checkpoint import resume_point; print(resume_point(sys.argv[1])['epoch'])" "$checkpoint")
epochs=${epochs:-$next}
[ "$side" = torch ] || build_xfmr "$build" "$threads"

tag="$(basename "$(cd "$checkpoint" && pwd)")-e$next-$epochs-b$max_batches-t$threads"
run() {  # run SIDE SEED
  local log="$logs/$1-$tag-seed$2.log"
  if grep -q 'End of training' "$log" 2>/dev/null; then echo "== $1 seed $2: kept $log"; return; fi
  echo "== $1 seed $2 ($(date -u '+%H:%M UTC')) -> $log"
  if [ "$1" = torch ]; then
    OMP_NUM_THREADS=$threads $py "$here/torch_lm.py" --data "$data" --resume "$checkpoint" --epochs "$epochs" \
      --max-batches "$max_batches" --seed "$2" --threads "$threads" >"$log"
  else
    local copy
    copy=$(mktemp -d)  # reseed writes the copy to $copy/ck; xfmr's checkpoints go there too
    $py "$here/xfmr_checkpoint.py" reseed "$checkpoint" "$copy/ck" "$2"
    OMP_NUM_THREADS=$threads XFMR_NO_PROGRESS=1 "$build/xfmr" train-lm --data "$data" --resume "$copy/ck" \
      --epochs "$epochs" --max-batches "$max_batches" --threads "$threads" >"$log"
    rm -rf "$copy"
  fi
}
for s in ${seeds//,/ }; do
  [ "$side" = xfmr ] || run torch "$s"
  [ "$side" = torch ] || run xfmr "$s"
done

echo "from $checkpoint (next epoch $next) to epoch $epochs:"
for f in "$logs"/*-"$tag"-seed*.log; do
  valid=$(grep 'end of epoch' "$f" | tail -1 | sed 's/.*valid ppl *//')
  test=$(grep 'End of training' "$f" | sed 's/.*test ppl *//')
  printf '  %-40s last valid ppl %8s   test ppl (best model) %8s\n' "$(basename "$f" .log)" "$valid" "$test"
done
