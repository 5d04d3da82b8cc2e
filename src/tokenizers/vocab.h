// Lookup structures for the models: a string -> id map that accepts string_view keys without
// allocating, an open-addressing u64 -> value map (BPE merge pairs, trie edges), and a small
// per-thread cache of tokenized words.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xfmr::tokenizers {

// Multiply-mix hash over 8-byte words (vocabulary strings are short).
inline uint64_t hash_bytes(std::string_view s) noexcept {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return static_cast<size_t>(hash_bytes(s)); }
};
using StrMap = std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>>;

// The vocabulary: string -> id in one open-addressing table with the keys in one arena, so a
// lookup is a hash, one probe (usually) and a memcmp, without allocation.
class FlatStrMap {
 public:
  struct Hit {
    std::string_view key;
    int32_t value;
  };
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(n * 2);
  }
  // Inserts or overwrites (a duplicated vocabulary entry keeps its last id, like a HashMap).
  void set(std::string_view k, int32_t v) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(16, slots_.size() * 2));
    uint64_t h = hash_bytes(k);
    size_t i = h & mask_;
    while (slots_[i].len != kEmpty) {
      if (slots_[i].hash == h && key(slots_[i]) == k) {
        slots_[i].value = v;
        return;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(k.size()), v};
    arena_.append(k);
    ++size_;
  }
  bool find(std::string_view k, Hit& out) const {
    if (size_ == 0) return false;
    uint64_t h = hash_bytes(k);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.len == kEmpty) return false;
      if (s.hash == h && s.len == k.size() && std::memcmp(arena_.data() + s.off, k.data(), k.size()) == 0) {
        out = Hit{key(s), s.value};
        return true;
      }
    }
  }
  std::optional<int32_t> get(std::string_view k) const {
    Hit h;
    if (!find(k, h)) return std::nullopt;
    return h.value;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.len != kEmpty) f(key(s), s.value);
  }

 private:
  static constexpr uint32_t kEmpty = ~0u;
  struct Slot {
    uint64_t hash = 0;
    uint32_t off = 0, len = kEmpty;
    int32_t value = 0;
  };
  std::string_view key(const Slot& s) const { return std::string_view(arena_).substr(s.off, s.len); }
  void rehash(size_t cap) {
    size_t c = 16;
    while (c < cap) c <<= 1;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(c, Slot{});
    mask_ = c - 1;
    for (const Slot& s : old) {
      if (s.len == kEmpty) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0, size_ = 0;
};

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
  static constexpr size_t kCapacity = 1 << 17;
  static constexpr size_t kMaxWordBytes = 256;
  // The calling thread's cache for model `instance` (cleared when another model used it last).
  static WordCache& local(uint64_t instance) {
    thread_local WordCache c;
    if (c.owner_ != instance) {
      c.map_ = FlatStrMap{};
      c.spans_.clear();
      c.pieces_.clear();
      c.owner_ = instance;
    }
    return c;
  }
  // Pieces of a cached word (valid until the next put), or false.
  bool find(std::string_view w, const CachedPiece*& begin, size_t& count) const {
    auto idx = map_.get(w);
    if (!idx) return false;
    const auto& sp = spans_[static_cast<size_t>(*idx)];
    begin = pieces_.data() + sp.first;
    count = sp.second;
    return true;
  }
  void put(std::string_view w, const std::vector<CachedPiece>& p) {
    if (map_.size() >= kCapacity || w.size() > kMaxWordBytes) return;
    map_.set(w, static_cast<int32_t>(spans_.size()));
    spans_.emplace_back(static_cast<uint32_t>(pieces_.size()), static_cast<uint32_t>(p.size()));
    pieces_.insert(pieces_.end(), p.begin(), p.end());
  }

 private:
  uint64_t owner_ = 0;
  FlatStrMap map_;                                   // word -> index into spans_
  std::vector<std::pair<uint32_t, uint32_t>> spans_;  // (first piece, count)
  std::vector<CachedPiece> pieces_;
};

}  // namespace xfmr::tokenizers
