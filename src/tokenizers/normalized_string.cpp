#include "tokenizers/normalized_string.h"

#include <utf8proc.h>

#include <algorithm>

#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

using unicode::next_cp;

NormalizedString::NormalizedString(std::string_view original)
    : normalized_(original), identity_(true), original_len_(original.size()) {}

Align NormalizedString::align_at(size_t i) const {
  if (!identity_) return align_[i];
  // Identity: the byte belongs to the char [b, b + len) of the (unchanged) text.
  size_t b = i;
  while (b > 0 && (static_cast<unsigned char>(normalized_[b]) & 0xC0) == 0x80) --b;
  size_t e = b + unicode::seq_len(static_cast<unsigned char>(normalized_[b]));
  return {static_cast<uint32_t>(b), static_cast<uint32_t>(std::min(e, normalized_.size()))};
}

void NormalizedString::materialize() {
  if (!identity_) return;
  align_.resize(normalized_.size());
  size_t i = 0;
  while (i < normalized_.size()) {
    size_t n = std::min(unicode::seq_len(static_cast<unsigned char>(normalized_[i])), normalized_.size() - i);
    for (size_t k = 0; k < n; ++k) align_[i + k] = {static_cast<uint32_t>(i), static_cast<uint32_t>(i + n)};
    i += n;
  }
  identity_ = false;
}

void NormalizedString::assign(std::string text, std::vector<Align> aligns) {
  normalized_ = std::move(text);
  align_ = std::move(aligns);
  identity_ = false;
}

bool NormalizedString::convert_offsets(size_t start, size_t end, size_t& os, size_t& oe) const {
  // HF: an empty target range is returned as is (in normalized coordinates).
  if (start == end) {
    os = start;
    oe = end;
    return true;
  }
  if (start > end || end > normalized_.size()) return false;
  os = align_at(start).first;
  oe = align_at(end - 1).second;
  return true;
}

void NormalizedString::transform_range(size_t ns, size_t ne, const Changes& dest, size_t initial_offset) {
  materialize();
  // Byte sizes of the characters being replaced, to walk the old alignments as we go.
  std::vector<uint8_t> replaced;
  replaced.reserve(ne - ns);
  for (size_t i = ns; i < ne;) {
    size_t n = unicode::seq_len(static_cast<unsigned char>(normalized_[i]));
    replaced.push_back(static_cast<uint8_t>(n));
    i += n;
  }
  size_t rp = 0;
  size_t offset = ns;
  for (; rp < replaced.size() && rp < initial_offset; ++rp) offset += replaced[rp];

  std::string out;
  out.reserve(dest.size() + 8);
  std::vector<Align> aligns;
  aligns.reserve(dest.size() + 8);
  const Align none{0, 0};
  for (const Change& ch : dest) {
    size_t idx = offset;
    Align a;
    if (ch.change > 0) {
      a = idx < 1 ? none : (idx - 1 < align_.size() ? align_[idx - 1] : (align_.empty() ? none : align_.back()));
    } else {
      // HF indexes past the end only on inconsistent transformations (it would panic); keep going.
      a = idx < align_.size() ? align_[idx] : (align_.empty() ? none : align_.back());
    }
    if (ch.change <= 0 && rp < replaced.size()) offset += replaced[rp++];
    if (ch.change < 0) {
      for (int32_t k = 0; k < -ch.change && rp < replaced.size(); ++k) offset += replaced[rp++];
    }
    size_t before = out.size();
    unicode::append_utf8(out, ch.c);
    aligns.insert(aligns.end(), out.size() - before, a);
  }
  align_.erase(align_.begin() + static_cast<std::ptrdiff_t>(ns), align_.begin() + static_cast<std::ptrdiff_t>(ne));
  align_.insert(align_.begin() + static_cast<std::ptrdiff_t>(ns), aligns.begin(), aligns.end());
  normalized_.replace(ns, ne - ns, out);
}

void NormalizedString::unicode_normalize(int options) {
  // Decompose each char (first code point replaces it, the others are insertions), reorder
  // combining marks canonically carrying their changes, then optionally compose: a composed pair
  // keeps the starter's slot and absorbs the mark's change minus the removed char.
  const bool compat = options & UTF8PROC_COMPAT;
  const bool compose = options & UTF8PROC_COMPOSE;
  Changes seq;
  seq.reserve(normalized_.size());
  utf8proc_int32_t buf[32];
  for (size_t i = 0; i < normalized_.size();) {
    char32_t c = next_cp(normalized_, i);
    int opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                 static_cast<utf8proc_option_t>(opts), &last);
    if (n <= 0 || n > 32) {
      seq.push_back({c, 0});
      continue;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) seq.push_back({static_cast<char32_t>(buf[k]), k == 0 ? 0 : 1});
  }
  auto ccc = [](char32_t c) { return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class; };
  for (size_t i = 0; i < seq.size();) {
    if (ccc(seq[i].c) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < seq.size() && ccc(seq[j].c) != 0) ++j;
    std::stable_sort(seq.begin() + static_cast<std::ptrdiff_t>(i), seq.begin() + static_cast<std::ptrdiff_t>(j),
                     [&](const Change& a, const Change& b) { return ccc(a.c) < ccc(b.c); });
    i = j;
  }
  if (compose) {
    Changes out;
    out.reserve(seq.size());
    std::ptrdiff_t starter = -1;
    int last_ccc = -1;
    for (const Change& ch : seq) {
      int cc = ccc(ch.c);
      if (starter >= 0) {
        // Not blocked: adjacent to the starter, or every mark in between has a lower, non-zero class.
        bool blocked = last_ccc != -1 && !(last_ccc != 0 && last_ccc < cc);
        if (!blocked) {
          utf8proc_int32_t pair[2] = {static_cast<utf8proc_int32_t>(out[starter].c), static_cast<utf8proc_int32_t>(ch.c)};
          utf8proc_ssize_t m = utf8proc_normalize_utf32(pair, 2, UTF8PROC_COMPOSE);
          if (m == 1) {
            out[starter].c = static_cast<char32_t>(pair[0]);
            out[starter].change += ch.change - 1;
            continue;
          }
        }
      }
      if (cc == 0) {
        starter = static_cast<std::ptrdiff_t>(out.size());
        last_ccc = -1;
      } else {
        last_ccc = cc;
      }
      out.push_back(ch);
    }
    seq.swap(out);
  }
  transform(seq, 0);
}

void NormalizedString::nfd() { unicode_normalize(UTF8PROC_DECOMPOSE); }
void NormalizedString::nfkd() { unicode_normalize(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT); }
void NormalizedString::nfc() { unicode_normalize(UTF8PROC_COMPOSE); }
void NormalizedString::nfkc() { unicode_normalize(UTF8PROC_COMPOSE | UTF8PROC_COMPAT); }

void NormalizedString::filter(const std::function<bool(char32_t)>& keep) {
  // Removed chars are attached to the kept char before them; leading removals are the initial offset.
  Changes kept;
  kept.reserve(normalized_.size());
  size_t leading = 0;
  for (size_t i = 0; i < normalized_.size();) {
    char32_t c = next_cp(normalized_, i);
    if (keep(c)) {
      kept.push_back({c, 0});
    } else if (kept.empty()) {
      ++leading;
    } else {
      --kept.back().change;
    }
  }
  transform(kept, leading);
}

void NormalizedString::map(const std::function<char32_t(char32_t)>& f) {
  Changes d;
  d.reserve(normalized_.size());
  for (size_t i = 0; i < normalized_.size();) d.push_back({f(next_cp(normalized_, i)), 0});
  transform(d, 0);
}

void NormalizedString::lowercase() {
  Changes d;
  d.reserve(normalized_.size());
  std::u32string tmp;
  for (size_t i = 0; i < normalized_.size();) {
    tmp.clear();
    unicode::append_lowercase(tmp, next_cp(normalized_, i));
    for (size_t k = 0; k < tmp.size(); ++k) d.push_back({tmp[k], k > 0 ? 1 : 0});
  }
  transform(d, 0);
}

void NormalizedString::uppercase() {
  Changes d;
  d.reserve(normalized_.size());
  std::u32string tmp;
  for (size_t i = 0; i < normalized_.size();) {
    tmp.clear();
    unicode::append_uppercase(tmp, next_cp(normalized_, i));
    for (size_t k = 0; k < tmp.size(); ++k) d.push_back({tmp[k], k > 0 ? 1 : 0});
  }
  transform(d, 0);
}

void NormalizedString::prepend(std::string_view s) {
  // HF: the first new char replaces the first char, the others and the first char itself are
  // insertions, so all of them take the first char's alignment.
  if (normalized_.empty() || s.empty()) return;
  size_t first = std::min(unicode::seq_len(static_cast<unsigned char>(normalized_[0])), normalized_.size());
  Align a = align_at(0);
  std::vector<Align> aligns;
  aligns.reserve(s.size() + normalized_.size());
  aligns.insert(aligns.end(), s.size() + first, a);
  for (size_t i = first; i < normalized_.size(); ++i) aligns.push_back(align_at(i));
  std::string text;
  text.reserve(s.size() + normalized_.size());
  text.append(s);
  text.append(normalized_);
  assign(std::move(text), std::move(aligns));
}

void NormalizedString::append(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  size_t b = normalized_.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(normalized_[b]) & 0xC0) == 0x80) --b;
  size_t i = b;
  Changes d{{next_cp(normalized_, i), 0}};
  for (size_t k = 0; k < s.size();) d.push_back({next_cp(s, k), 1});
  transform_range(b, normalized_.size(), d, 0);
}

void NormalizedString::lrstrip(bool left, bool right) {
  std::vector<char32_t> cps;
  for (size_t i = 0; i < normalized_.size();) cps.push_back(next_cp(normalized_, i));
  size_t lead = 0, trail = 0;
  if (left)
    while (lead < cps.size() && unicode::is_whitespace(cps[lead])) ++lead;
  if (right)
    while (trail < cps.size() && unicode::is_whitespace(cps[cps.size() - 1 - trail])) ++trail;
  if (lead == 0 && trail == 0) return;
  Changes d;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i < lead || i + trail >= cps.size()) continue;
    d.push_back({cps[i], i + trail + 1 == cps.size() ? -static_cast<int32_t>(trail) : 0});
  }
  transform(d, lead);
}

void NormalizedString::replace(const std::vector<Match>& matches, std::string_view content) {
  // One pass with HF's result of replacing the matches left to right with transform_range: the new
  // chars take the alignment of the last replaced char (of the char before, for an empty match).
  bool any = false;
  for (const Match& m : matches) any |= m.is_match;
  if (!any) return;
  std::string out;
  std::vector<Align> aligns;
  out.reserve(normalized_.size() + content.size());
  aligns.reserve(normalized_.size() + content.size());
  size_t pos = 0;
  for (const Match& m : matches) {
    if (!m.is_match) continue;
    for (size_t i = pos; i < m.start; ++i) aligns.push_back(align_at(i));
    out.append(normalized_, pos, m.start - pos);
    Align a = m.start < m.end ? align_at(m.end - 1) : (aligns.empty() ? Align{0, 0} : aligns.back());
    out.append(content);
    aligns.insert(aligns.end(), content.size(), a);
    pos = m.end;
  }
  for (size_t i = pos; i < normalized_.size(); ++i) aligns.push_back(align_at(i));
  out.append(normalized_, pos, std::string::npos);
  assign(std::move(out), std::move(aligns));
}

NormalizedString NormalizedString::slice(size_t start, size_t end) const {
  NormalizedString r;
  r.normalized_.clear();
  size_t os = 0, oe = 0;
  if (!convert_offsets(start, end, os, oe)) return r;
  os = std::min(os, original_len_);
  oe = std::min(std::max(oe, os), original_len_);
  r.normalized_ = normalized_.substr(start, end - start);
  r.original_len_ = oe - os;
  r.shift_ = shift_ + os;
  r.identity_ = identity_;
  if (!identity_) {
    r.align_.reserve(end - start);
    for (size_t i = start; i < end; ++i) {
      // HF subtracts without checking; saturate so odd alignments cannot wrap around.
      uint32_t a = align_[i].first >= os ? align_[i].first - static_cast<uint32_t>(os) : 0;
      uint32_t b = align_[i].second >= os ? align_[i].second - static_cast<uint32_t>(os) : 0;
      r.align_.push_back({a, b});
    }
  }
  return r;
}

std::vector<NormalizedString> NormalizedString::split(const std::vector<Match>& matches, SplitBehavior behavior) const {
  struct Piece {
    size_t s, e;
    bool remove;
  };
  std::vector<Piece> pieces;
  pieces.reserve(matches.size());
  bool prev = false;
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::Removed:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, m.is_match});
      break;
    case SplitBehavior::Contiguous:
      for (const auto& m : matches) {
        if (m.is_match == prev && !pieces.empty()) pieces.back().e = m.end;
        else pieces.push_back({m.start, m.end, false});
        prev = m.is_match;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& m : matches) {
        if (m.is_match && !prev && !pieces.empty()) pieces.back().e = m.end;
        else pieces.push_back({m.start, m.end, false});
        prev = m.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !prev && !pieces.empty()) pieces.back().s = it->start;
        else pieces.push_back({it->start, it->end, false});
        prev = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
  }
  std::vector<NormalizedString> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces)
    if (!p.remove) out.push_back(slice(p.s, p.e));
  return out;
}

}  // namespace xfmr::tokenizers
