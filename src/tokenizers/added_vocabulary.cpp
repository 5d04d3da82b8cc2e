#include "tokenizers/impl.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

void AddedVocabulary::Trie::insert(std::string_view s, int32_t value) {
  if (!s.empty()) first_byte[static_cast<unsigned char>(s[0])] = true;
  uint32_t node = 0;
  for (unsigned char c : s) {
    uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
    if (const uint32_t* child = edges.get(key)) {
      node = *child;
    } else {
      auto n = static_cast<uint32_t>(terminal.size());
      terminal.push_back(-1);
      edges.set(key, n);
      node = n;
    }
  }
  // Leftmost-longest with duplicates: the first token added with a given text wins.
  if (terminal[node] < 0) terminal[node] = value;
}

void AddedVocabulary::add(std::vector<AddedToken> tokens, const Model& model, const Normalizer* normalizer) {
  for (AddedToken& t : tokens) {
    if (t.content.empty() || by_content_.count(t.content)) continue;
    if (auto mid = model.token_to_id(t.content)) t.id = *mid;
    XFMR_CHECK(t.id >= 0, "added token '", t.content, "' has no id");
    by_content_.emplace(t.content, t.id);
    by_id_[t.id] = tokens_.size();
    tokens_.push_back(t);
  }
  // Rebuild both tries: HF lists special tokens first, then the others, each in insertion order.
  raw_ = Trie{};
  normalized_ = Trie{};
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const AddedToken& t = tokens_[i];
      if (t.special != (pass == 0)) continue;
      if (!t.normalized) {
        raw_.insert(t.content, static_cast<int32_t>(i));
      } else {
        NormalizedString n(t.content);
        if (normalizer) normalizer->normalize(n);
        if (!n.get().empty()) normalized_.insert(n.get(), static_cast<int32_t>(i));
      }
    }
  }
}

std::optional<int32_t> AddedVocabulary::token_to_id(std::string_view t) const {
  auto it = by_content_.find(t);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedVocabulary::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

bool AddedVocabulary::is_special(int32_t id) const {
  const AddedToken* t = by_id(id);
  return t && t->special;
}

namespace {
// Last code point of s (non-empty, valid UTF-8).
char32_t last_cp(std::string_view s) {
  size_t b = s.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  return unicode::next_cp(s, b);
}
}  // namespace

std::vector<AddedVocabulary::Found> AddedVocabulary::find_matches(std::string_view s, const Trie& trie) const {
  std::vector<Found> out;
  if (s.empty()) return {{-1, 0, 0}};
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    // Leftmost-longest: the first position where a token starts, the longest token there.
    size_t ms = 0, me = 0;
    int32_t idx = -1;
    for (size_t i = pos; i < s.size() && idx < 0; ++i) {
      if (!trie.first_byte[static_cast<unsigned char>(s[i])]) continue;
      uint32_t node = 0;
      for (size_t k = i; k < s.size(); ++k) {
        const uint32_t* child = trie.edges.get((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[k]));
        if (!child) break;
        node = *child;
        if (trie.terminal[node] >= 0) {
          idx = trie.terminal[node];
          ms = i;
          me = k + 1;
        }
      }
    }
    if (idx < 0) break;
    pos = me;  // matches never overlap, even when one is discarded below
    const AddedToken& t = tokens_[static_cast<size_t>(idx)];
    size_t start = ms, stop = me;
    if (t.single_word) {
      bool start_space = start == 0 || !unicode::is_word_char(last_cp(s.substr(0, start)));
      size_t k = stop;
      bool stop_space = stop == s.size() || !unicode::is_word_char(unicode::next_cp(s, k));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      // Start of the whitespace run that ends the text before the match, not before what the
      // previous match already took.
      size_t ns = start;
      while (ns > 0) {
        size_t b = ns - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        size_t k = b;
        if (!unicode::is_whitespace(unicode::next_cp(s, k))) break;
        ns = b;
      }
      start = std::max(ns, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t k = stop;
        if (!unicode::is_whitespace(unicode::next_cp(s, k))) break;
        stop = k;
      }
      pos = std::max(pos, stop);
    }
    if (start_offset < start) out.push_back({-1, start_offset, start});
    out.push_back({idx, start, stop});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({-1, start_offset, s.size()});
  return out;
}

PreTokenizedString AddedVocabulary::extract_and_normalize(const Normalizer* normalizer, std::string_view text) const {
  PreTokenizedString p{text, NormalizedString(text)};
  // 1. Tokens matched on the raw text; 2. the other pieces are normalized and searched for the
  // normalized tokens. Splits that matched get their token right away.
  auto mark = [&](const Trie& trie, const Normalizer* norm) {
    std::vector<Split>& before = p.splits();
    std::vector<Split> out;
    for (Split& s : before) {
      if (s.tokens) {
        out.push_back(std::move(s));
        continue;
      }
      if (norm) norm->normalize(s.normalized);
      if (trie.empty()) {
        if (!s.normalized.empty()) out.push_back(std::move(s));
        continue;
      }
      for (const Found& f : find_matches(s.normalized.get(), trie)) {
        Split piece{s.normalized.slice(f.start, f.end), std::nullopt};
        if (piece.normalized.empty()) continue;
        if (f.index >= 0) {
          const AddedToken& t = tokens_[static_cast<size_t>(f.index)];
          piece.tokens = std::vector<Token>{Token{t.id, piece.normalized.get(), 0, piece.normalized.len()}};
        }
        out.push_back(std::move(piece));
      }
    }
    before = std::move(out);
  };
  mark(raw_, nullptr);
  mark(normalized_, normalizer);
  return p;
}

}  // namespace xfmr::tokenizers
