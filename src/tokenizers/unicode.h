// UTF-8 and Unicode helpers for the tokenizers layer. Character classes follow the definitions
// HuggingFace tokenizers uses (Rust's `char` methods and the unicode_categories crate), so that
// splitting and cleaning decide exactly like the reference.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xfmr::tokenizers::unicode {

// Decodes one code point at s[i] (i < s.size(), s known to be valid UTF-8) and advances i.
inline char32_t next_cp(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  if (c < 0xE0) {
    char32_t cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
    i += 2;
    return cp;
  }
  if (c < 0xF0) {
    char32_t cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                  (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
    i += 3;
    return cp;
  }
  char32_t cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
                ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
  i += 4;
  return cp;
}

// Length in bytes of the UTF-8 sequence starting with lead byte c (valid input).
inline size_t seq_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
inline size_t cp_len(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
void append_utf8(std::string& out, char32_t cp);
inline std::string to_utf8(char32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}
size_t count_cps(std::string_view s);

// Offset of the first invalid byte, or npos when `s` is valid UTF-8 (no surrogates, no overlongs).
size_t find_invalid_utf8(std::string_view s);
// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD.
std::string from_utf8_lossy(std::string_view bytes);

// Rust char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t c);
// unicode_categories: general category groups.
bool is_punctuation(char32_t c);  // Pc Pd Ps Pe Pi Pf Po
bool is_other(char32_t c);        // Cc Cf Cs Co Cn
bool is_mark_nonspacing(char32_t c);  // Mn
bool is_letter(char32_t c);       // L*
bool is_number(char32_t c);       // N*
bool is_alphanumeric(char32_t c);  // Rust char::is_alphanumeric (Alphabetic || Numeric)
bool is_numeric(char32_t c);      // Rust char::is_numeric (Nd Nl No)
// BERT: ASCII punctuation or any Unicode punctuation.
bool is_bert_punctuation(char32_t c);
// BERT's "Chinese character": the CJK Unified Ideograph blocks.
bool is_chinese_char(char32_t c);
// Rust regex's \w (Alphabetic, M, Nd, Pc, Join_Control) used by added-token single_word checks.
bool is_word_char(char32_t c);

// Rust char::to_lowercase (full mapping: U+0130 lowers to two code points).
void append_lowercase(std::u32string& out, char32_t c);
void append_uppercase(std::u32string& out, char32_t c);

// GPT-2's byte <-> printable-character table.
char32_t byte_to_char(uint8_t b);
// Returns -1 when c is not one of the 256 byte characters.
int char_to_byte(char32_t c);

}  // namespace xfmr::tokenizers::unicode
