#!/usr/bin/env bash
# Quality verdict over several seeds: one run of the tutorial's schedule is one sample (PyTorch and
# xfmr draw initialisation and dropout masks from different generators), and its end point moves with
# the random streams. This runs the full tutorial (3 epochs unless --epochs) for every seed on both
# sides and prints per-seed test perplexities, their means and the ratio of the means.
#
#   bench/lm/seeds.sh --seeds 0,1,2                 # both sides, one after the other, 2 threads each
#   bench/lm/seeds.sh --seeds 0,1,2 --side xfmr     # only one side (e.g. to add runs later)
#   options: --threads N  --epochs N  --max-batches N (0 = all)  --tokenization T  --build DIR
#            --logs DIR (default build-lm-bench/seeds next to the sources; every run's log is kept there
#            and runs whose log already has a RESULT line are not repeated)
#
# On a 2-core machine a full run takes about 77 min (PyTorch) and 39 min (xfmr) at 2 threads.
set -euo pipefail
source "$(dirname "$0")/common.sh"  # here, root, shared, data, build; require_wikitext, build_xfmr
logs=$root/build-lm-bench/seeds
seeds=0,1,2 side=both threads=2 epochs=3 max_batches=0 tok=basic_english
while [ $# -gt 0 ]; do
  case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --side) side=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --max-batches) max_batches=$2; shift 2 ;;
    --tokenization) tok=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case $side in both|torch|xfmr) ;; *) echo "--side must be both, torch or xfmr, got $side" >&2; exit 2 ;; esac
require_wikitext "$data"
mkdir -p "$logs"

[ "$side" = torch ] || build_xfmr "$build" "$threads"

common=(--data "$data" --tokenization "$tok" --epochs "$epochs" --threads "$threads" --max-batches "$max_batches")
tag="$tok-e$epochs-b$max_batches-t$threads"
run() {  # run SIDE SEED: skip when the log already holds a RESULT line
  local log="$logs/$1-$tag-seed$2.log"
  if grep -q '^RESULT ' "$log" 2>/dev/null; then echo "== $1 seed $2: kept $log"; return; fi
  echo "== $1 seed $2 ($(date -u '+%H:%M UTC')) -> $log"
  if [ "$1" = torch ]; then
    OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_lm.py" "${common[@]}" --seed "$2" >"$log"
  else
    OMP_NUM_THREADS=$threads XFMR_NO_PROGRESS=1 "$build/xfmr" train-lm "${common[@]}" --seed "$2" --result-json >"$log"
  fi
}
for s in ${seeds//,/ }; do
  [ "$side" = xfmr ] || run torch "$s"
  [ "$side" = torch ] || run xfmr "$s"
done

python3 - "$logs" "$tag" "$seeds" <<'PY'
import json, math, os, sys
logs, tag, seeds = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
def test_ppl(side, seed):
    path = os.path.join(logs, f"{side}-{tag}-seed{seed}.log")
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith("RESULT "):
            return json.loads(line[7:]).get("test_ppl")
    return None
def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None, 0
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, sd, len(xs)
rows = {side: [test_ppl(side, s) for s in seeds] for side in ("torch", "xfmr")}
fmt = lambda v: f"{v:10.2f}" if v is not None else f"{'-':>10}"
print(f"\ntest ppl ({tag})")
print(f"{'seed':>6} {'PyTorch':>10} {'xfmr':>10}")
for i, s in enumerate(seeds):
    print(f"{s:>6} {fmt(rows['torch'][i])} {fmt(rows['xfmr'][i])}")
(mt, st, nt), (mx, sx, nx) = stats(rows["torch"]), stats(rows["xfmr"])
for name, m, sd, n in (("PyTorch", mt, st, nt), ("xfmr", mx, sx, nx)):
    if n:
        print(f"{name:>8}: mean {m:.2f}, sd {sd:.2f} over {n} run(s)")
if nt and nx:
    print(f"ratio of means xfmr / PyTorch: {mx / mt:.3f} (goal <= 1.03)")
PY
