// Lookup structures for the models: a string -> id map that accepts string_view keys without
// allocating, an open-addressing u64 -> value map (BPE merge pairs, trie edges), and a small
// per-thread cache of tokenized words.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xfmr::tokenizers {

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept {
    // FNV-1a over 8-byte words: cheap and good enough for vocab strings.
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};
using StrMap = std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>>;

template <typename V>
class U64Map {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, V{});
    mask_ = cap - 1;
    size_ = 0;
  }
  // Inserts or overwrites.
  void set(uint64_t k, const V& v) {
    if (keys_.empty() || (size_ + 1) * 2 > keys_.size()) grow();
    size_t i = slot(k);
    while (keys_[i] != kEmpty && keys_[i] != k) i = (i + 1) & mask_;
    if (keys_[i] == kEmpty) ++size_;
    keys_[i] = k;
    vals_[i] = v;
  }
  const V* get(uint64_t k) const {
    if (keys_.empty()) return nullptr;
    size_t i = slot(k);
    while (true) {
      if (keys_[i] == k) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20) & mask_; }
  void grow() {
    std::vector<uint64_t> ok = std::move(keys_);
    std::vector<V> ov = std::move(vals_);
    reserve(ok.empty() ? 16 : ok.size());
    for (size_t i = 0; i < ok.size(); ++i)
      if (ok[i] != kEmpty) set(ok[i], ov[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<V> vals_;
  size_t mask_ = 0, size_ = 0;
};

// Unique id per model instance, so per-thread caches never serve a destroyed model's entries to a
// new model allocated at the same address.
inline uint64_t next_instance_id() {
  static std::atomic<uint64_t> n{1};
  return n++;
}

// Per-thread word cache for a model: word -> token pieces (id, byte start, byte end).
struct CachedPiece {
  int32_t id;
  uint32_t start, end;
};
class WordCache {
 public:
  static constexpr size_t kCapacity = 10000;
  static constexpr size_t kMaxWordBytes = 256;
  // The calling thread's cache for model `instance` (cleared when another model used it last).
  static WordCache& local(uint64_t instance) {
    thread_local WordCache c;
    if (c.owner_ != instance) {
      c.map_.clear();
      c.owner_ = instance;
    }
    return c;
  }
  const std::vector<CachedPiece>* find(std::string_view w) const {
    auto it = map_.find(w);
    return it == map_.end() ? nullptr : &it->second;
  }
  void put(std::string_view w, std::vector<CachedPiece> p) {
    if (map_.size() < kCapacity && w.size() <= kMaxWordBytes) map_.emplace(std::string(w), std::move(p));
  }

 private:
  uint64_t owner_ = 0;
  std::unordered_map<std::string, std::vector<CachedPiece>, StrHash, std::equal_to<>> map_;
};

}  // namespace xfmr::tokenizers
