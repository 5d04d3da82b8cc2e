// Threading: one OpenMP pool shared by our kernels and oneDNN. Work is split into contiguous,
// static chunks, so results are bit-identical for a given thread count.
#pragma once

#include <cstdint>

namespace xfmr {

// Number of threads kernels use (default: OMP_NUM_THREADS or the number of cores).
int num_threads();
void set_num_threads(int n);
// True inside a parallel region (nested parallel_for then runs serially).
bool in_parallel_region();

namespace detail {
int omp_thread_id();
}

// Calls fn(begin, end) on contiguous sub-ranges of [begin, end), at most one per thread. Ranges
// smaller than `grain` elements per thread run on the calling thread only.
template <typename Fn>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Fn&& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
  int nt = num_threads();
  if (grain < 1) grain = 1;
  int64_t max_chunks = (n + grain - 1) / grain;
  if (nt > max_chunks) nt = static_cast<int>(max_chunks);
  if (nt <= 1 || in_parallel_region()) {
    fn(begin, end);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    int t = detail::omp_thread_id();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = begin + t * chunk;
    int64_t e = b + chunk < end ? b + chunk : end;
    if (b < e) fn(b, e);
  }
}

}  // namespace xfmr
