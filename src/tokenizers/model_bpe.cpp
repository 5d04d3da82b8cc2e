// BPE: characters (with continuing_subword_prefix / end_of_word_suffix, byte fallback and unknown
// handling) merged by rank, lowest rank first and leftmost on ties, exactly like HF's Word::merge_all.
// Results are cached per thread for words up to WordCache::kMaxWordBytes.
#include <queue>

#include "tokenizers/components.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

struct MergeInfo {
  uint32_t rank;
  int32_t new_id;
};

class Bpe : public Model {
 public:
  Bpe(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, std::optional<std::string> unk,
      std::string prefix, std::string suffix, bool fuse_unk, bool byte_fallback, bool ignore_merges,
      const std::string& where)
      : vocab_(std::move(vocab)), unk_(std::move(unk)), prefix_(std::move(prefix)), suffix_(std::move(suffix)),
        fuse_unk_(fuse_unk), byte_fallback_(byte_fallback), ignore_merges_(ignore_merges),
        instance_(next_instance_id()) {
    XFMR_CHECK(!vocab_.empty(), where, ": the vocabulary is empty");
    int32_t max_id = -1;
    vocab_.for_each([&](std::string_view tok, int32_t id) {
      XFMR_CHECK(id >= 0 && id < (1 << 28), where, ": invalid id ", id, " for token '", tok, "'");
      max_id = std::max(max_id, id);
    });
    rev_.resize(static_cast<size_t>(max_id) + 1);
    has_.assign(rev_.size(), 0);
    vocab_.for_each([&](std::string_view tok, int32_t id) {
      rev_[static_cast<size_t>(id)] = tok;
      has_[static_cast<size_t>(id)] = 1;
    });
    merges_.reserve(merges.size());
    std::string merged;
    for (size_t r = 0; r < merges.size(); ++r) {
      const auto& [a, b] = merges[r];
      auto ia = vocab_.get(a), ib = vocab_.get(b);
      XFMR_CHECK(ia, where, ": merge ", r, " ('", a, " ", b, "') uses '", a, "' which is not in the vocab");
      XFMR_CHECK(ib, where, ": merge ", r, " ('", a, " ", b, "') uses '", b, "' which is not in the vocab");
      std::string_view bs = b;
      if (!prefix_.empty() && bs.substr(0, prefix_.size()) == prefix_) bs.remove_prefix(prefix_.size());
      merged.assign(a);
      merged.append(bs);
      auto im = vocab_.get(merged);
      XFMR_CHECK(im, where, ": merge ", r, " ('", a, " ", b, "') gives '", merged,
                 "' which is not in the vocab");
      uint64_t key = (static_cast<uint64_t>(*ia) << 32) | static_cast<uint32_t>(*ib);
      // The first occurrence of a pair wins (a later duplicate would have a worse rank).
      if (!merges_.get(key)) merges_.set(key, MergeInfo{static_cast<uint32_t>(r), *im});
    }
    if (unk_) {
      unk_id_ = vocab_.get(*unk_).value_or(-1);
    }
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    WordCache& cache = WordCache::local(instance_);
    const CachedPiece* hit;
    size_t count;
    if (cache.find(word, hit, count)) {
      for (size_t k = 0; k < count; ++k)
        out.push_back(Token{hit[k].id, rev_[static_cast<size_t>(hit[k].id)], hit[k].start, hit[k].end});
      return;
    }
    std::vector<CachedPiece> pieces;
    if (ignore_merges_) {
      if (auto id = vocab_.get(word)) pieces.push_back({*id, 0, static_cast<uint32_t>(word.size())});
    }
    if (pieces.empty()) pieces = merge_word(word);
    for (const auto& p : pieces) out.push_back(Token{p.id, rev_[static_cast<size_t>(p.id)], p.start, p.end});
    cache.put(word, pieces);
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.get(t); }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= rev_.size() || !has_[static_cast<size_t>(id)]) return std::nullopt;
    return rev_[static_cast<size_t>(id)];
  }
  size_t vocab_size() const override { return vocab_.size(); }
  std::string continuing_subword_prefix() const override { return prefix_; }
  std::string type_name() const override { return "BPE"; }

 private:
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    uint32_t len;  // bytes of the original word; 0 = merged away
  };

  std::vector<CachedPiece> merge_word(std::string_view word) const {
    std::vector<Symbol> syms;
    syms.reserve(word.size());
    auto add = [&](int32_t id, uint32_t len) {
      int32_t n = static_cast<int32_t>(syms.size());
      syms.push_back(Symbol{id, n - 1, -1, len});
      if (n > 0) syms[static_cast<size_t>(n - 1)].next = n;
    };
    thread_local std::string s;
    int32_t unk_pending_id = -1;
    uint32_t unk_pending_len = 0;
    for (size_t i = 0; i < word.size();) {
      size_t end = i + unicode::seq_len(static_cast<unsigned char>(word[i]));
      end = std::min(end, word.size());
      auto byte_len = static_cast<uint32_t>(end - i);
      s.clear();
      if (i > 0) s += prefix_;
      s.append(word.substr(i, end - i));
      if (end == word.size()) s += suffix_;
      if (auto id = vocab_.get(s)) {
        if (unk_pending_id >= 0) {
          add(unk_pending_id, unk_pending_len);
          unk_pending_id = -1;
        }
        add(*id, byte_len);
      } else {
        bool done = false;
        if (byte_fallback_) {
          std::vector<int32_t> ids;
          for (unsigned char b : s) {
            static const char* hex = "0123456789ABCDEF";
            char code[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
            auto bt = vocab_.get(std::string_view(code, 6));
            if (!bt) {
              ids.clear();
              break;
            }
            ids.push_back(*bt);
          }
          if (!ids.empty()) {
            for (int32_t id : ids) add(id, 1);
            done = true;
          }
        }
        if (!done && unk_) {
          XFMR_CHECK(unk_id_ >= 0, "BPE: the unknown token '", *unk_, "' is not in the vocabulary");
          if (unk_pending_id >= 0 && fuse_unk_) {
            unk_pending_len += byte_len;
          } else {
            if (unk_pending_id >= 0) add(unk_pending_id, unk_pending_len);
            unk_pending_id = unk_id_;
            unk_pending_len = byte_len;
          }
        }
      }
      i = end;
    }
    if (unk_pending_id >= 0) add(unk_pending_id, unk_pending_len);
    merge_all(syms);
    std::vector<CachedPiece> pieces;
    uint32_t pos = 0;
    for (const Symbol& sy : syms) {
      if (sy.len == 0) continue;
      pieces.push_back({sy.id, pos, pos + sy.len});
      pos += sy.len;
    }
    return pieces;
  }

  const MergeInfo* merge_of(int32_t a, int32_t b) const {
    return merges_.get((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
  }

  void merge_all(std::vector<Symbol>& syms) const {
    struct Cand {
      uint32_t rank;
      int32_t pos;
      int32_t new_id;
      bool operator<(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand> q;
    for (size_t i = 0; i + 1 < syms.size(); ++i)
      if (const MergeInfo* m = merge_of(syms[i].id, syms[i + 1].id))
        q.push({m->rank, static_cast<int32_t>(i), m->new_id});
    while (!q.empty()) {
      Cand top = q.top();
      q.pop();
      Symbol& cur = syms[static_cast<size_t>(top.pos)];
      if (cur.len == 0 || cur.next < 0) continue;
      size_t next_pos = static_cast<size_t>(cur.next);
      Symbol right = syms[next_pos];
      const MergeInfo* m = merge_of(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      syms[next_pos].len = 0;
      if (right.next >= 0 && static_cast<size_t>(right.next) < syms.size())
        syms[static_cast<size_t>(right.next)].prev = top.pos;
      if (cur.prev >= 0)
        if (const MergeInfo* pm = merge_of(syms[static_cast<size_t>(cur.prev)].id, cur.id))
          q.push({pm->rank, cur.prev, pm->new_id});
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < syms.size())
        if (const MergeInfo* nm = merge_of(cur.id, syms[static_cast<size_t>(cur.next)].id))
          q.push({nm->rank, top.pos, nm->new_id});
    }
  }

  Vocab vocab_;
  std::vector<std::string> rev_;
  std::vector<uint8_t> has_;
  U64Map<MergeInfo> merges_;
  std::optional<std::string> unk_;
  int32_t unk_id_ = -1;
  std::string prefix_, suffix_;
  bool fuse_unk_, byte_fallback_, ignore_merges_;
  uint64_t instance_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(Vocab vocab, std::vector<std::pair<std::string, std::string>> merges,
                                std::optional<std::string> unk, std::string prefix, std::string suffix, bool fuse_unk,
                                bool byte_fallback, bool ignore_merges, const std::string& where) {
  return std::make_unique<Bpe>(std::move(vocab), merges, std::move(unk), std::move(prefix), std::move(suffix), fuse_unk,
                               byte_fallback, ignore_merges, where);
}

}  // namespace xfmr::tokenizers
