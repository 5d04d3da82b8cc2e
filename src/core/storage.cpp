// A caching allocator: freed blocks are kept in size-class free lists and handed out again.
// Training loops allocate the same activation sizes every step; reusing the blocks avoids the page
// faults of fresh memory, which cost more than the math on this machine kind (see
// docs/performance.md). Blocks above kMaxCachedBlock and the excess over kMaxCachedBytes go back
// to the OS.
#include "xfmr/core/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "xfmr/core/error.h"

namespace xfmr {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kMaxCachedBlock = size_t{1} << 31;
constexpr size_t kMaxCachedBytes = size_t{4} << 30;

// Size classes: multiples of 64 bytes up to 4 KiB, then 8 steps per power of two (<= 12.5% waste).
size_t round_size(size_t n) {
  if (n <= 4096) return (n + kAlignment - 1) / kAlignment * kAlignment;
  size_t p = size_t{1} << (63 - __builtin_clzll(n));
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}

class CachingAllocator {
 public:
  void* allocate(size_t nbytes, size_t* capacity) {
    size_t cap = round_size(nbytes == 0 ? 1 : nbytes);
    *capacity = cap;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cap);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= cap;
        note_in_use(cap);
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, cap);
    if (!p) {
      release_cached();
      p = std::aligned_alloc(kAlignment, cap);
    }
    if (!p) throw Error(detail::cat("out of memory allocating ", nbytes, " bytes"));
    std::lock_guard<std::mutex> lock(mu_);
    note_in_use(cap);
    return p;
  }

  void deallocate(void* p, size_t cap) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.bytes_in_use -= cap;
    if (cap <= kMaxCachedBlock && stats_.bytes_cached + cap <= kMaxCachedBytes) {
      free_[cap].push_back(p);
      stats_.bytes_cached += cap;
    } else {
      std::free(p);
    }
  }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cap, list] : free_)
      for (void* p : list) std::free(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  void note_in_use(size_t cap) {
    stats_.bytes_in_use += cap;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

CachingAllocator& allocator() {
  // Never destroyed: Storage objects owned by static tensors may be released after main() returns.
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = allocator().allocate(nbytes, &s->capacity_);
  s->nbytes_ = nbytes;
  s->owned_ = true;
  s->writable_ = true;
  return s;
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes, std::shared_ptr<const void> owner,
                                         bool writable) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->nbytes_ = nbytes;
  s->owned_ = false;
  s->writable_ = writable;
  s->owner_ = std::move(owner);
  return s;
}

Storage::~Storage() {
  if (owned_ && data_) allocator().deallocate(data_, capacity_);
}

AllocatorStats allocator_stats() { return allocator().stats(); }
void allocator_release_cached() { allocator().release_cached(); }

}  // namespace xfmr
