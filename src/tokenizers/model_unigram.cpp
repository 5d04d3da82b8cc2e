// Unigram (SentencePiece) model: Viterbi best path over all vocabulary pieces matching at each
// byte position (trie common-prefix search); a character no piece covers becomes the unknown piece
// with score min_score - 10, consecutive unknowns are fused, like HF's encode_optimized.
#include <cmath>
#include <limits>

#include "tokenizers/components.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

constexpr double kUnkPenalty = 10.0;

class Unigram : public Model {
 public:
  Unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id, bool byte_fallback,
          const std::string& where)
      : vocab_(std::move(vocab)), unk_id_(unk_id), byte_fallback_(byte_fallback), instance_(next_instance_id()) {
    XFMR_CHECK(!vocab_.empty(), where, ": the vocabulary is empty");
    if (unk_id_)
      XFMR_CHECK(*unk_id_ >= 0 && static_cast<size_t>(*unk_id_) < vocab_.size(), where, ": unk_id ", *unk_id_,
                 " is outside the vocabulary (", vocab_.size(), " pieces)");
    ids_.reserve(vocab_.size());
    nodes_.push_back(Node{});
    edges_.reserve(vocab_.size() * 4);
    is_byte_.assign(vocab_.size(), 0);
    for (size_t id = 0; id < vocab_.size(); ++id) {
      const auto& [piece, score] = vocab_[id];
      is_byte_[id] = piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>';
      XFMR_CHECK(std::isfinite(score), where, ": piece ", id, " has a non-finite score");
      ids_.set(piece, static_cast<int32_t>(id));
      min_score_ = std::min(min_score_, score);
      if (piece.empty()) continue;
      uint32_t node = 0;
      for (unsigned char c : piece) {
        uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
        if (const uint32_t* child = edges_.get(key)) {
          node = *child;
        } else {
          auto n = static_cast<uint32_t>(nodes_.size());
          nodes_.push_back(Node{});
          edges_.set(key, n);
          node = n;
        }
      }
      // HF's token_to_ids keeps the last id of a duplicated piece; so does the trie terminal.
      nodes_[node].id = static_cast<int32_t>(id);
    }
  }

  void tokenize(std::string_view text, std::vector<Token>& out) const override {
    if (text.empty()) return;
    WordCache& cache = WordCache::local(instance_);
    const CachedPiece* pieces;
    size_t count;
    std::vector<CachedPiece> fresh;
    if (!cache.find(text, pieces, count)) {
      fresh = encode(text);
      cache.put(text, fresh);
      pieces = fresh.data();
      count = fresh.size();
    }
    // HF names a token by its text, except byte-fallback tokens which keep their piece (<0xAB>).
    for (size_t k = 0; k < count; ++k) {
      const CachedPiece& p = pieces[k];
      const auto id = static_cast<size_t>(p.id);
      std::string_view value = is_byte_[id] ? std::string_view(vocab_[id].first) : text.substr(p.start, p.end - p.start);
      out.push_back(Token{p.id, std::string(value), p.start, p.end});
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return ids_.get(t); }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= vocab_.size()) return std::nullopt;
    return vocab_[static_cast<size_t>(id)].first;
  }
  size_t vocab_size() const override { return vocab_.size(); }
  std::string type_name() const override { return "Unigram"; }

 private:
  struct Node {
    int32_t id = -1;
  };

  std::vector<CachedPiece> encode(std::string_view s) const {
    struct Best {
      int32_t id = -1;
      double score = 0;
      int64_t starts_at = -1;
    };
    const size_t n = s.size();
    const double unk_score = min_score_ - kUnkPenalty;
    std::vector<Best> best(n + 1);
    for (size_t at = 0; at < n;) {
      const double here = best[at].score;
      size_t mblen = std::min(unicode::seq_len(static_cast<unsigned char>(s[at])), n - at);
      bool single = false;
      uint32_t node = 0;
      for (size_t k = at; k < n; ++k) {
        const uint32_t* child = edges_.get((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[k]));
        if (!child) break;
        node = *child;
        int32_t id = nodes_[node].id;
        if (id < 0) continue;
        size_t end = k + 1;
        double cand = vocab_[static_cast<size_t>(id)].second + here;
        Best& t = best[end];
        if (t.starts_at < 0 || cand > t.score) {
          t.score = cand;
          t.starts_at = static_cast<int64_t>(at);
          t.id = id;
        }
        if (end - at == mblen) single = true;
      }
      if (!single) {
        XFMR_CHECK(unk_id_, "Unigram: text needs the unknown piece but the model has no unk_id");
        Best& t = best[at + mblen];
        double cand = unk_score + here;
        if (t.starts_at < 0 || cand > t.score) {
          t.score = cand;
          t.starts_at = static_cast<int64_t>(at);
          t.id = *unk_id_;
        }
      }
      at += mblen;
    }
    // Backtrack, fusing consecutive unknown pieces.
    std::vector<CachedPiece> rev;
    size_t end = n;
    int64_t unk_end = -1;
    while (end > 0) {
      const Best& b = best[end];
      auto start = static_cast<size_t>(b.starts_at);
      if (unk_id_ && b.id == *unk_id_) {
        if (unk_end < 0) unk_end = static_cast<int64_t>(end);
      } else {
        if (unk_end >= 0) {
          rev.push_back({*unk_id_, static_cast<uint32_t>(end), static_cast<uint32_t>(unk_end)});
          unk_end = -1;
        }
        rev.push_back({b.id, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      }
      end = start;
    }
    if (unk_end >= 0) rev.push_back({*unk_id_, 0, static_cast<uint32_t>(unk_end)});
    std::vector<CachedPiece> pieces(rev.rbegin(), rev.rend());
    // Pieces that are not in the vocabulary by their text (the unknown ones) may fall back to bytes.
    std::vector<CachedPiece> out;
    out.reserve(pieces.size());
    for (const auto& p : pieces) {
      std::string_view text = s.substr(p.start, p.end - p.start);
      if (auto id = ids_.get(text)) {
        out.push_back({*id, p.start, p.end});
        continue;
      }
      if (byte_fallback_) {
        std::vector<CachedPiece> bytes;
        for (unsigned char c : text) {
          static const char* hex = "0123456789ABCDEF";
          char code[6] = {'<', '0', 'x', hex[c >> 4], hex[c & 15], '>'};
          auto bt = ids_.get(std::string_view(code, 6));
          if (!bt) {
            bytes.clear();
            break;
          }
          bytes.push_back({*bt, p.start, p.end});
        }
        if (!bytes.empty()) {
          for (auto& b : bytes) out.push_back(b);
          continue;
        }
      }
      XFMR_CHECK(unk_id_, "Unigram: text needs the unknown piece but the model has no unk_id");
      out.push_back({*unk_id_, p.start, p.end});
    }
    return out;
  }

  std::vector<std::pair<std::string, double>> vocab_;
  FlatStrMap ids_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  double min_score_ = std::numeric_limits<double>::infinity();
  std::vector<uint8_t> is_byte_;
  std::vector<Node> nodes_;
  U64Map<uint32_t> edges_;
  uint64_t instance_;
};

}  // namespace

std::unique_ptr<Model> make_unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id,
                                    bool byte_fallback, const std::string& where) {
  return std::make_unique<Unigram>(std::move(vocab), unk_id, byte_fallback, where);
}

}  // namespace xfmr::tokenizers
