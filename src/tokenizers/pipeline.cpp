#include "tokenizers/pipeline.h"

#include <algorithm>

#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

PreTokenizedString::PreTokenizedString(std::string_view original, NormalizedString n) : original_(original) {
  splits_.push_back(Split{std::move(n), std::nullopt});
}

Encoding PreTokenizedString::tokenize(const Model& model, int32_t type_id) {
  Encoding e;
  size_t total = splits_.size() + splits_.size() / 2;
  e.ids.reserve(total);
  e.tokens.reserve(total);
  e.byte_offsets.reserve(total);
  e.word_ids.reserve(total);

  // Byte -> code point index of the original text (identity for ASCII), HF's
  // BytesToCharOffsetConverter: offsets past the end map to one after the last char.
  bool ascii = std::all_of(original_.begin(), original_.end(), [](char c) { return (c & 0x80) == 0; });
  std::vector<uint32_t> char_of;
  if (!ascii) {
    char_of.resize(original_.size());
    uint32_t ci = 0;
    for (size_t i = 0; i < original_.size(); ++ci) {
      size_t n = unicode::seq_len(static_cast<unsigned char>(original_[i]));
      for (size_t k = 0; k < n && i + k < original_.size(); ++k) char_of[i + k] = ci;
      i += n;
    }
  }
  auto to_chars = [&](Offsets o) -> Offsets {
    if (ascii) return o;
    if (o.first >= original_.size()) return o;  // HF keeps the byte offsets when the start is unknown
    size_t s = char_of[o.first];
    if (o.second < original_.size()) return {s, char_of[o.second]};
    size_t last = o.second >= 1 && o.second - 1 < original_.size() ? char_of[o.second - 1] : s;
    return {s, last + 1};
  };

  int32_t word = 0;
  thread_local std::vector<Token> buf;
  for (auto& s : splits_) {
    auto base = s.normalized.offsets_original();
    if (!s.tokens) {
      buf.clear();
      model.tokenize(s.normalized.get(), buf);
    }
    for (Token& t : s.tokens ? *s.tokens : buf) {
      size_t os, oe;
      Offsets o;
      if (s.normalized.convert_offsets(t.start, t.end, os, oe)) o = {base.first + os, base.first + oe};
      else o = {t.start, t.end};
      e.ids.push_back(t.id);
      e.tokens.push_back(std::move(t.value));
      e.byte_offsets.push_back(o);
      e.word_ids.push_back(word);
    }
    ++word;
  }
  e.offsets.reserve(total);
  for (const auto& o : e.byte_offsets) e.offsets.push_back(to_chars(o));
  e.type_ids.assign(e.ids.size(), type_id);
  e.attention_mask.assign(e.ids.size(), 1);
  e.special_tokens_mask.assign(e.ids.size(), 0);
  e.sequence_ids.assign(e.ids.size(), 0);
  return e;
}

namespace enc {

Encoding from_special(const std::vector<int32_t>& ids, const std::vector<std::string>& tokens, int32_t type_id) {
  Encoding e;
  e.ids = ids;
  e.tokens = tokens;
  size_t n = ids.size();
  e.type_ids.assign(n, type_id);
  e.attention_mask.assign(n, 1);
  e.special_tokens_mask.assign(n, 1);
  e.word_ids.assign(n, -1);
  e.sequence_ids.assign(n, -1);
  e.offsets.assign(n, {0, 0});
  e.byte_offsets.assign(n, {0, 0});
  return e;
}

void set_sequence_id(Encoding& e, int32_t seq) {
  std::fill(e.sequence_ids.begin(), e.sequence_ids.end(), seq);
  for (auto& o : e.overflowing) std::fill(o.sequence_ids.begin(), o.sequence_ids.end(), seq);
}

void set_type_ids(Encoding& e, int32_t type_id) { std::fill(e.type_ids.begin(), e.type_ids.end(), type_id); }

static void append(Encoding& self, const Encoding& pair) {
  auto cat = [](auto& a, const auto& b) { a.insert(a.end(), b.begin(), b.end()); };
  cat(self.ids, pair.ids);
  cat(self.tokens, pair.tokens);
  cat(self.type_ids, pair.type_ids);
  cat(self.attention_mask, pair.attention_mask);
  cat(self.special_tokens_mask, pair.special_tokens_mask);
  cat(self.word_ids, pair.word_ids);
  cat(self.sequence_ids, pair.sequence_ids);
  cat(self.offsets, pair.offsets);
  cat(self.byte_offsets, pair.byte_offsets);
}

void merge_with(Encoding& self, Encoding pair) {
  if (self.ids.empty() && self.overflowing.empty()) {
    self = std::move(pair);  // what merging into an empty encoding gives, without the copies
    return;
  }
  // HF combines the overflowing windows of both sides: each of ours with the pair and with each of
  // the pair's windows, then ourselves with each of the pair's windows.
  std::vector<Encoding> overflowings;
  for (const Encoding& so : self.overflowing) {
    Encoding n = so;
    merge_with(n, pair);
    overflowings.push_back(std::move(n));
    for (const Encoding& po : pair.overflowing) {
      Encoding m = so;
      merge_with(m, po);
      overflowings.push_back(std::move(m));
    }
  }
  for (const Encoding& po : pair.overflowing) {
    Encoding n = self;
    n.overflowing.clear();
    merge_with(n, po);
    overflowings.push_back(std::move(n));
  }
  append(self, pair);
  self.overflowing = std::move(overflowings);
}

Encoding merge(std::vector<Encoding> parts) {
  Encoding e;
  for (auto& p : parts) merge_with(e, std::move(p));
  return e;
}

static Encoding range_of(const Encoding& e, size_t a, size_t b) {
  Encoding r;
  auto sub = [&](auto& dst, const auto& src) { dst.assign(src.begin() + a, src.begin() + b); };
  sub(r.ids, e.ids);
  sub(r.tokens, e.tokens);
  sub(r.type_ids, e.type_ids);
  sub(r.attention_mask, e.attention_mask);
  sub(r.special_tokens_mask, e.special_tokens_mask);
  sub(r.word_ids, e.word_ids);
  sub(r.sequence_ids, e.sequence_ids);
  sub(r.offsets, e.offsets);
  sub(r.byte_offsets, e.byte_offsets);
  return r;
}

void truncate(Encoding& e, size_t max_len, size_t stride, bool left) {
  size_t n = e.size();
  if (max_len >= n) return;
  if (max_len == 0) {
    Encoding cut = std::move(e);
    e = Encoding{};
    e.overflowing.push_back(std::move(cut));
    return;
  }
  XFMR_CHECK(stride < max_len, "tokenizer: truncation stride (", stride,
             ") must be smaller than the length left for the sequence (", max_len,
             "; max_length minus the special tokens)");
  size_t step = max_len - stride;
  std::vector<std::pair<size_t, size_t>> parts;
  if (!left) {
    for (size_t start = 0; start < n; start += step) {
      size_t stop = std::min(start + max_len, n);
      parts.push_back({start, stop});
      if (stop == n) break;
    }
  } else {
    // Windows taken from the end: stops at n, n - step, ...
    for (size_t k = 0;; ++k) {
      if (k * step >= n) break;
      size_t stop = n - k * step;
      size_t start = stop > max_len ? stop - max_len : 0;
      parts.push_back({start, stop});
      if (start == 0) break;
    }
  }
  std::vector<Encoding> windows;
  windows.reserve(parts.size());
  for (auto [a, b] : parts) windows.push_back(range_of(e, a, b));
  Encoding first = std::move(windows.front());
  first.overflowing.assign(std::make_move_iterator(windows.begin() + 1), std::make_move_iterator(windows.end()));
  e = std::move(first);
}

void pad(Encoding& e, size_t target, int32_t pad_id, int32_t pad_type_id, const std::string& pad_token, bool left) {
  for (auto& o : e.overflowing) pad(o, target, pad_id, pad_type_id, pad_token, left);
  if (e.size() >= target) return;
  size_t k = target - e.size();
  auto ins = [&](auto& v, const auto& value) {
    if (left) v.insert(v.begin(), k, value);
    else v.insert(v.end(), k, value);
  };
  ins(e.ids, pad_id);
  ins(e.tokens, pad_token);
  ins(e.type_ids, pad_type_id);
  ins(e.attention_mask, 0);
  ins(e.special_tokens_mask, 1);
  ins(e.word_ids, -1);
  ins(e.sequence_ids, -1);
  ins(e.offsets, Offsets{0, 0});
  ins(e.byte_offsets, Offsets{0, 0});
}

Encoding default_process(Encoding a, std::optional<Encoding> b) {
  if (!b) return a;
  set_sequence_id(a, 0);
  set_sequence_id(*b, 1);
  merge_with(a, std::move(*b));
  return a;
}

}  // namespace enc

// Encoding helpers.
std::optional<int32_t> Encoding::token_to_word(size_t token) const {
  if (token >= word_ids.size() || word_ids[token] < 0) return std::nullopt;
  return word_ids[token];
}

std::optional<int32_t> Encoding::token_to_sequence(size_t token) const {
  if (token >= sequence_ids.size() || sequence_ids[token] < 0) return std::nullopt;
  return sequence_ids[token];
}

std::optional<size_t> Encoding::char_to_token(size_t pos, int32_t seq) const {
  for (size_t i = 0; i < offsets.size(); ++i)
    if (sequence_ids[i] == seq && pos >= offsets[i].first && pos < offsets[i].second) return i;
  return std::nullopt;
}

std::optional<std::pair<size_t, size_t>> Encoding::word_to_tokens(int32_t word, int32_t seq) const {
  std::optional<std::pair<size_t, size_t>> r;
  for (size_t i = 0; i < word_ids.size(); ++i) {
    if (sequence_ids[i] != seq || word_ids[i] != word) continue;
    if (!r) r = std::pair<size_t, size_t>{i, i + 1};
    else r->second = i + 1;
  }
  return r;
}

}  // namespace xfmr::tokenizers
