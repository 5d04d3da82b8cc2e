#!/usr/bin/env bash
# Builds (if needed) and runs the GEMM backend study, then prints markdown tables
# (docs/performance.md (GEMM section)). Usage:
#   bench/gemm/run.sh [--build-dir DIR] [--out FILE] [--quick] [--wait-quiet] [--no-build]
#                     [--tables-only FILE]
#   --quick       fewer repetitions (3 x 20 ms instead of 7 x 40 ms): a smoke run
#   --wait-quiet  before each program, wait until the CPUs are idle (< 10 % busy over 3 s, twice)
#   --max-wait S  give up waiting after S seconds and measure anyway (default 1800)
#   --tables-only FILE   only re-print the tables from a raw results file of an earlier run
# Environment: threads are pinned (OMP_PROC_BIND=close, OMP_PLACES=cores); each program sets 1 and 2
# threads itself. OpenBLAS reads OPENBLAS_CORETYPE and BLIS reads BLIS_ARCH_TYPE when the library is
# loaded, so every setting is a separate process.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build-gemm"
out=""
reps=(--reps 7 --min-ms 40)
wait_quiet=0
max_wait=1800
do_build=1
tables_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --quick) reps=(--reps 3 --min-ms 20); shift ;;
    --wait-quiet) wait_quiet=1; shift ;;
    --max-wait) max_wait="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --tables-only) tables_only="$2"; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--out FILE] [--quick] [--wait-quiet] [--max-wait S] [--no-build] [--tables-only FILE]" >&2; exit 2 ;;
  esac
done

tables() {  # raw results file -> markdown tables
  awk -F'\t' '
    function cell(gf, pct) { return sprintf("%.0f (%s%%)", gf, pct == "-" ? "?" : sprintf("%.0f", pct)) }
    $1 == "ROW" {
      b = $2; mode = $3; key = mode SUBSEP $4 SUBSEP $5 SUBSEP $6 SUBSEP $7
      if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
      if (!((mode, $7) in gseen)) { gseen[mode, $7] = 1 }
      if (!(key in kseen)) { kseen[key] = 1; keys[++nk] = key }
      val[key, b] = cell($9, $10) (($11 + 0) > 20 ? "*" : ""); us[key, b] = $8; if (($11 + 0) > 20) disturbed++
      present[mode, b] = 1
    }
    $1 == "PEAK" { peak[$2, $3] = $4 }
    $1 == "PACK" { pk = $3 "x" $4; if (!(pk in pkseen)) { pkseen[pk] = 1; pks[++npk] = pk } pack[pk, $5] = $6 }
    $1 == "OVH" { if (!($2 in oseen)) { oseen[$2] = 1; ovs[++nov] = $2 } ovh[$2, $3] = $4 }
    $1 == "LOWP" { lk = $2 SUBSEP $3 SUBSEP $4 "x" $5; if (!(lk in lseen)) { lseen[lk] = 1; lks[++nlk] = lk } lowp[lk, $6] = $8; limpl[lk] = $9 }
    $1 == "TRAIN" { tk = $2 SUBSEP $3 "x" $4 SUBSEP $5 SUBSEP $6; trk[++ntr] = tk; tr[tk] = $7 SUBSEP $8 SUBSEP $9 }
    END {
      if (length(peak) > 0) {
        print "\n### Measured peak (median)\n"
        print "| what | 1 thread | 2 threads |"; print "|---|---|---|"
        split("fp32_avx512 fp32_avx2 int8_vnni read_gbs", pn, " ")
        split("FP32 FMA AVX-512 (GFLOP/s)|FP32 FMA AVX2 (GFLOP/s)|INT8 VNNI vpdpbusd (GOP/s)|memory read bandwidth, 512 MiB (GB/s)", pl, "|")
        for (i = 1; i <= 4; ++i) if ((pn[i], 1) in peak) printf "| %s | %.1f | %.1f |\n", pl[i], peak[pn[i], 1], peak[pn[i], 2]
      }
      split("main cold small", modes, " ")
      split("hot weights (same W every call; L2/L3-resident)|cold weights (rotating over 256 MiB of W copies: streamed from DRAM)|small products (attention-sized)", mtitle, "|")
      for (mi = 1; mi <= 3; ++mi) for (t = 1; t <= 2; ++t) {
        m = modes[mi]
        if (!((m, t) in gseen)) continue
        printf "\n### GEMM y = x·Wᵀ, %s, %d thread%s: GFLOP/s (%% of measured FP32 peak)\n\n", mtitle[mi], t, (t > 1 ? "s" : "")
        hdr = "| M | N×K |"; sep = "|---|---|"
        for (i = 1; i <= nb; ++i) if ((m, order[i]) in present) { hdr = hdr " " order[i] " |"; sep = sep "---|" }
        print hdr; print sep
        for (j = 1; j <= nk; ++j) {
          split(keys[j], kp, SUBSEP)
          if (kp[1] != m || kp[5] != t) continue
          line = "| " kp[2] " | " kp[3] "×" kp[4] " |"
          for (i = 1; i <= nb; ++i) if ((m, order[i]) in present) line = line " " (((keys[j], order[i]) in val) ? val[keys[j], order[i]] : "–") " |"
          print line
        }
      }
      if (disturbed > 0) printf "\n\\* measured while other processes used > 20 %% of a CPU (%d cells): treat as noisy\n", disturbed
      if (npk > 0) {
        print "\n### Weight packing (oneDNN reorder [N,K] plain -> blocked), microseconds\n"
        print "| N×K | 1 thread | 2 threads |"; print "|---|---|---|"
        for (i = 1; i <= npk; ++i) printf "| %s | %.0f | %.0f |\n", pks[i], pack[pks[i], 1], pack[pks[i], 2]
      }
      if (ntr > 0) {
        print "\n### Training: re-pack every step? (oneDNN matmul, microseconds)\n"
        print "| product | N×K | M | threads | plain | packed | reorder | packed + reorder | gain of re-packing |"
        print "|---|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= ntr; ++i) {
          split(trk[i], a, SUBSEP); split(tr[trk[i]], v, SUBSEP)
          printf "| %s | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %+.0f%% |\n", a[1], a[2], a[3], a[4], v[1], v[2], v[3], v[2] + v[3], 100 * (v[1] - v[2] - v[3]) / v[1]
        }
      }
      if (nlk > 0) {
        print "\n### Later dtypes: pre-packed oneDNN matmul, execute only, GOP/s (int8: % of measured VNNI peak)\n"
        print "| dtype | M | N×K | 1 thread | 2 threads | oneDNN implementation |"; print "|---|---|---|---|---|---|"
        for (i = 1; i <= nlk; ++i) {
          split(lks[i], a, SUBSEP)
          c1 = lowp[lks[i], 1]; c2 = lowp[lks[i], 2]
          if (a[1] == "int8" && ("int8_vnni", 1) in peak) {
            c1 = sprintf("%.0f (%.0f%%)", c1, 100 * c1 / peak["int8_vnni", 1]); c2 = sprintf("%.0f (%.0f%%)", c2, 100 * c2 / peak["int8_vnni", 2])
          } else { c1 = sprintf("%.0f", c1); c2 = sprintf("%.0f", c2) }
          printf "| %s | %s | %s | %s | %s | %s |\n", a[1], a[2], a[3], c1, c2, limpl[lks[i]]
        }
      }
      if (nov > 0) {
        print "\n### Overheads (oneDNN 2.6), microseconds (median)\n"
        print "| what | 1 thread | 2 threads |"; print "|---|---|---|"
        for (i = 1; i <= nov; ++i) printf "| %s | %s | %s |\n", ovs[i], ovh[ovs[i], 1], ovh[ovs[i], 2]
      }
    }' "$1"
}

if [ -n "$tables_only" ]; then
  tables "$tables_only"
  exit 0
fi

if [ "$do_build" = 1 ]; then
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXFMR_BUILD_TESTS=OFF \
      -DXFMR_BUILD_EXAMPLES=OFF >/dev/null
  fi
  targets=()
  for t in xfmr_peak_fma xfmr_gemm_dnnl xfmr_gemm_openblas xfmr_gemm_blis xfmr_gemm_packed_linear; do
    ninja -C "$build" -t targets all 2>/dev/null | grep -q "^$t:" && targets+=("$t")
  done
  ninja -C "$build" "${targets[@]}" >/dev/null
fi
bin="$build/bench"
[ -z "$out" ] && out="$build/gemm-results-$(date +%Y%m%d-%H%M%S).tsv"

export OMP_PROC_BIND=close OMP_PLACES=cores OMP_NUM_THREADS=2
orig_coretype="${OPENBLAS_CORETYPE-}"

busy_pct() {  # CPU busy % over the next 3 s (all CPUs), from /proc/stat
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat); sleep 3
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
  echo "$a $b" | awk '{bu = $3 - $1; id = $4 - $2; printf "%.0f", 100 * bu / (bu + id + 1e-9)}'
}
quiet() {  # --wait-quiet: wait (max --max-wait s) until other processes leave the CPUs idle (< 10 % busy twice)
  [ "$wait_quiet" = 1 ] || return 0
  local waited=0 ok=0
  while [ $waited -lt "$max_wait" ]; do
    if [ "$(busy_pct)" -lt 10 ]; then ok=$((ok + 1)); [ $ok -ge 2 ] && return 0; else ok=0; sleep 10; waited=$((waited + 10)); fi
    waited=$((waited + 3))
  done
  echo "# still busy after $max_wait s: measuring anyway" >&2
}
note() { echo "# $(date '+%F %T') load: $(cut -d' ' -f1-3 /proc/loadavg), CPU busy before start: $(busy_pct) % | $*" | tee -a "$out" >&2; }

: >"$out"
{
  echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; flags:$(grep -o -w -E 'avx512f|avx512_vnni|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "# kernel $(uname -r); gcc $(gcc -dumpfullversion 2>/dev/null)"
  echo "# environment OPENBLAS_CORETYPE=${orig_coretype:-(unset)}"
} >>"$out"

quiet; note "peak_fma"
"$bin/xfmr_peak_fma" | tee -a "$out" >&2
peak="1:$(awk -F'\t' '$1=="PEAK" && $2=="fp32_avx512" && $3==1 {print $4}' "$out"),2:$(awk -F'\t' '$1=="PEAK" && $2=="fp32_avx512" && $3==2 {print $4}' "$out")"

run() {  # label env... -- program args...
  local label="$1"; shift
  quiet; note "$label"
  env "$@" "${reps[@]}" --peak "$peak" | tee -a "$out" | grep -E '^(#|ERROR)' >&2 || true
}
run "oneDNN + own kernel" "$bin/xfmr_gemm_dnnl"
if [ -x "$bin/xfmr_gemm_openblas" ]; then
  run "OpenBLAS, OPENBLAS_CORETYPE=Haswell" OPENBLAS_CORETYPE=Haswell "$bin/xfmr_gemm_openblas" --tag "[Haswell]" --no-small
  run "OpenBLAS, OPENBLAS_CORETYPE=SkylakeX" OPENBLAS_CORETYPE=SkylakeX "$bin/xfmr_gemm_openblas" --tag "[SkylakeX]"
  run "OpenBLAS, auto-detected core" -u OPENBLAS_CORETYPE "$bin/xfmr_gemm_openblas" --tag "[auto]" --no-small --no-cold
else
  note "OpenBLAS benchmark not built: skipped"
fi
if [ -x "$bin/xfmr_gemm_blis" ]; then
  # Debian's BLIS 0.9 is built without the AVX-512 'skx' sub-configuration (BLIS_ARCH_TYPE=skx aborts)
  # and detects 'haswell' (AVX2) here anyway: "Number of FMA units unknown" under this hypervisor.
  run "BLIS, auto-detected sub-configuration" -u BLIS_ARCH_TYPE "$bin/xfmr_gemm_blis" --tag "[auto]"
else
  note "BLIS benchmark not built: skipped"
fi
if [ -x "$bin/xfmr_gemm_packed_linear" ]; then
  quiet; note "PackedLinear prototype self-test"
  "$bin/xfmr_gemm_packed_linear" | tee -a "$out" >&2
fi
note "done; raw results in $out"
tables "$out"
