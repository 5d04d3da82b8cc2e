#include "xfmr/core/parallel.h"

#include <omp.h>

#include "xfmr/core/error.h"

namespace xfmr {

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  XFMR_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
}

bool in_parallel_region() { return omp_in_parallel() != 0; }

namespace detail {
int omp_thread_id() { return omp_get_thread_num(); }
}  // namespace detail

}  // namespace xfmr
