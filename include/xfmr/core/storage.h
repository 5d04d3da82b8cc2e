// Storage: a block of bytes that tensors view. Either owned (64-byte aligned, from a caching
// allocator that reuses freed blocks, because first touch of fresh pages is very expensive on
// our VMs) or borrowed (e.g. a read-only memory-mapped file kept alive by `owner`).
#pragma once

#include <cstddef>
#include <memory>

namespace xfmr {

class Storage {
 public:
  // Owned, uninitialised, 64-byte aligned storage of at least `nbytes` bytes.
  static std::shared_ptr<Storage> allocate(size_t nbytes);
  // Borrowed memory; `owner` keeps it alive (e.g. a MappedFile). Not freed by Storage.
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes, std::shared_ptr<const void> owner,
                                         bool writable);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool writable() const { return writable_; }
  bool owned() const { return owned_; }

 private:
  Storage() = default;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;  // allocator block size (owned only)
  bool owned_ = false;
  bool writable_ = true;
  std::shared_ptr<const void> owner_;
};

// Statistics and control of the caching allocator (for benchmarks, tests and memory reports).
struct AllocatorStats {
  size_t bytes_in_use = 0;     // handed out to live Storage objects
  size_t bytes_cached = 0;     // freed blocks kept for reuse
  size_t peak_bytes_in_use = 0;
};
AllocatorStats allocator_stats();
// Returns every cached block to the operating system.
void allocator_release_cached();

}  // namespace xfmr
