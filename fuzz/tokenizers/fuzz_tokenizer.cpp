// libFuzzer target: arbitrary bytes through encode / encode_pair (with truncation and padding) and
// decode of one tokenizer family (chosen at build time by XFMR_FUZZ_TOKENIZER, a folder under
// shared/assets/hf). Invalid UTF-8 must raise xfmr::Error; everything else must succeed and keep
// the encoding's invariants. Run: ./fuzz_tokenizer_bert -max_total_time=300 [corpus_dir]
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "xfmr/core/error.h"
#include "xfmr/tokenizers/tokenizer.h"

using namespace xfmr::tokenizers;

namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer t = [] {
    const char* env = std::getenv("XFMR_SHARED_DIR");
    std::filesystem::path shared = env && *env ? env : XFMR_FUZZ_SHARED_DIR;
    return Tokenizer::from_pretrained(shared / "assets/hf" / XFMR_FUZZ_TOKENIZER);
  }();
  return t;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Replaces every byte that is not part of a valid UTF-8 sequence by '?'.
std::string sanitize(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 3) {
      auto b = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && b < 0xA0) && !(c == 0xED && b > 0x9F);
    }
    if (ok && n == 4) {
      auto b = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xF0 && b < 0x90) && !(c == 0xF4 && b > 0x8F);
    }
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

// max_len bounds the main window only: when the budget for a sequence is 0, HF moves the whole
// sequence into one overflowing window, which can then be longer than max_length.
void check_encoding(const Encoding& e, size_t len_a, size_t len_b, size_t max_len) {
  size_t n = e.size();
  check(e.tokens.size() == n && e.type_ids.size() == n && e.attention_mask.size() == n &&
        e.special_tokens_mask.size() == n && e.word_ids.size() == n && e.sequence_ids.size() == n &&
        e.offsets.size() == n && e.byte_offsets.size() == n);
  if (max_len) check(n <= max_len);
  for (size_t i = 0; i < n; ++i) {
    size_t limit = e.sequence_ids[i] == 1 ? len_b : len_a;
    check(e.byte_offsets[i].first <= e.byte_offsets[i].second && e.byte_offsets[i].second <= limit);
    check(e.offsets[i].first <= e.offsets[i].second && e.offsets[i].second <= limit);
  }
  for (const auto& o : e.overflowing) check_encoding(o, len_a, len_b, 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tokenizer& t = tokenizer();
  if (size < 2) return 0;
  const uint8_t flags = data[0], max_len_byte = data[1];
  std::string raw(reinterpret_cast<const char*>(data + 2), size - 2);
  // Split point for the pair: the first 0x1F byte.
  size_t cut = raw.find('\x1f');
  bool pair = (flags & 1) && cut != std::string::npos;
  std::string a = pair ? raw.substr(0, cut) : raw, b = pair ? raw.substr(cut + 1) : "";

  EncodeOptions o;
  o.add_special_tokens = flags & 2;
  size_t max_len = 0;
  if (flags & 4) {
    size_t specials = o.add_special_tokens ? t.num_special_tokens_to_add(pair) : 0;
    max_len = specials + 1 + max_len_byte % 64;
    o.truncation.max_length = max_len;
    o.truncation.stride = (flags >> 5) % (max_len - specials);
    o.truncation.strategy = (flags & 8) ? TruncationStrategy::LongestFirst
                                        : (pair ? TruncationStrategy::OnlySecond : TruncationStrategy::LongestFirst);
    o.truncation.direction = (flags & 16) ? Direction::Left : Direction::Right;
  }
  // Raw bytes: either valid (and encoded) or rejected with xfmr::Error.
  try {
    Encoding e = pair ? t.encode_pair(a, b, o) : t.encode(a, o);
    check_encoding(e, a.size(), b.size(), max_len);
  } catch (const xfmr::Error&) {
  }
  // The same text made valid must always encode (truncation may legitimately refuse a pair whose
  // second sequence is too short; that is an xfmr::Error too).
  std::string va = sanitize(a), vb = sanitize(b);
  std::vector<int32_t> ids;
  try {
    Encoding e = pair ? t.encode_pair(va, vb, o) : t.encode(va, o);
    check_encoding(e, va.size(), vb.size(), max_len);
    ids = e.ids;
  } catch (const xfmr::Error& err) {
    check(max_len != 0);  // only truncation may refuse valid text
  }
  for (bool skip : {false, true}) {
    DecodeOptions d;
    d.skip_special_tokens = skip;
    d.clean_up_tokenization_spaces = flags & 64;
    (void)t.decode(ids, d);
  }
  // Arbitrary ids, including unknown ones, decode without failing.
  std::vector<int32_t> any;
  for (size_t i = 0; i + 4 <= raw.size(); i += 4) {
    int32_t v;
    std::memcpy(&v, raw.data() + i, 4);
    any.push_back(v % static_cast<int32_t>(t.vocab_size() + 16));
  }
  (void)t.decode(any, {});
  (void)t.convert_ids_to_tokens(any, true);
  return 0;
}
