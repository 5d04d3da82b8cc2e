// NormalizedString: a piece of the input being normalized, with, for every byte of the normalized
// text, the byte range of the original text it came from. Every transformation goes through
// transform_range(), which keeps the alignments exactly like HuggingFace's NormalizedString does
// (including its quirks), because token offsets are computed from these alignments.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xfmr::tokenizers {

using Align = std::pair<uint32_t, uint32_t>;

// One character of a transformation and its change: 0 = replaces the current char, 1 = inserted,
// -n = replaces the current char and removes the n following ones.
struct Change {
  char32_t c;
  int32_t change;
};
using Changes = std::vector<Change>;

// How a split treats the matched delimiters (HF SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// (byte range in the normalized string, is_match) covering the whole string, in order.
struct Match {
  size_t start, end;
  bool is_match;
};

class NormalizedString {
 public:
  NormalizedString() = default;
  explicit NormalizedString(std::string_view original);

  const std::string& get() const { return normalized_; }
  size_t len() const { return normalized_.size(); }
  bool empty() const { return normalized_.empty(); }
  // Byte range of this piece in the whole original input.
  std::pair<size_t, size_t> offsets_original() const { return {shift_, shift_ + original_len_}; }
  // Maps a byte range of the normalized text to a byte range of `original()`; false when out of
  // range (HF returns the range unchanged when it is empty).
  bool convert_offsets(size_t start, size_t end, size_t& out_start, size_t& out_end) const;

  void transform_range(size_t start, size_t end, const Changes& dest, size_t initial_offset);
  // Replaces the whole text by `text` with the given per-byte alignments (fast paths that compute
  // HF's result directly).
  void assign(std::string text, std::vector<Align> aligns);
  // Original byte range that normalized byte i comes from.
  Align alignment(size_t i) const { return align_at(i); }
  // True while every byte still maps to its own char of the original (no alignment table kept).
  bool is_identity() const { return identity_; }
  void transform(const Changes& dest, size_t initial_offset) { transform_range(0, len(), dest, initial_offset); }

  // 1:1 replacement of ASCII bytes by ASCII bytes: the alignments stay valid (fast path).
  template <typename F>
  void map_ascii(F&& f) {
    for (char& c : normalized_) c = f(c);
  }
  void nfd();
  void nfkd();
  void nfc();
  void nfkc();
  void filter(const std::function<bool(char32_t)>& keep);
  void map(const std::function<char32_t(char32_t)>& f);
  void lowercase();
  void uppercase();
  void prepend(std::string_view s);
  void append(std::string_view s);
  void lstrip() { lrstrip(true, false); }
  void rstrip() { lrstrip(false, true); }
  void strip() { lrstrip(true, true); }
  // Replaces every match (is_match == true) by `content`.
  void replace(const std::vector<Match>& matches, std::string_view content);

  // Slice by a normalized byte range (must be on char boundaries).
  NormalizedString slice(size_t start, size_t end) const;
  // Splits on the given matches (from a Pattern) with the given behaviour.
  std::vector<NormalizedString> split(const std::vector<Match>& matches, SplitBehavior behavior) const;

 private:
  void lrstrip(bool left, bool right);
  void unicode_normalize(int options);
  // Builds align_ from the identity mapping before a transformation changes it.
  void materialize();
  Align align_at(size_t i) const;

  std::string normalized_;
  // One entry per byte of normalized_, unless identity_: then normalized_ is still the original
  // text (byte i maps to the char around it), which keeps word-sized pieces allocation-free.
  std::vector<Align> align_;
  bool identity_ = true;
  size_t original_len_ = 0;
  size_t shift_ = 0;
};

}  // namespace xfmr::tokenizers
