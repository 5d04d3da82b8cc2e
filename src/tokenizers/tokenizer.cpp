// Tokenizer: runs the pipeline (added tokens -> normalizer -> pre-tokenizer -> model ->
// truncation -> post-processor -> padding) and decoding, like HF TokenizerImpl.
#include "xfmr/tokenizers/tokenizer.h"

#include <omp.h>

#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>

#include "tokenizers/impl.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"
#include "xfmr/core/parallel.h"

namespace xfmr::tokenizers {

namespace {

void check_utf8(std::string_view text, const char* what) {
  size_t bad = unicode::find_invalid_utf8(text);
  XFMR_CHECK(bad == std::string_view::npos, "tokenizer: ", what, " is not valid UTF-8 (invalid byte 0x", std::hex,
             static_cast<int>(static_cast<unsigned char>(text[bad == std::string_view::npos ? 0 : bad])), std::dec,
             " at byte ", bad, ")");
  XFMR_CHECK(text.size() < (size_t(1) << 32), "tokenizer: ", what, " is larger than 4 GiB");
}

// HF truncate_encodings.
void truncate_pair(Encoding& a, std::optional<Encoding>& b, const Truncation& t, size_t max_length) {
  bool left = t.direction == Direction::Left;
  if (max_length == 0) {
    enc::truncate(a, 0, t.stride, left);
    if (b) enc::truncate(*b, 0, t.stride, left);
    return;
  }
  size_t total = a.size() + (b ? b->size() : 0);
  if (total <= max_length) return;
  size_t to_remove = total - max_length;
  switch (t.strategy) {
    case TruncationStrategy::LongestFirst: {
      if (!b) {
        enc::truncate(a, total - to_remove, t.stride, left);
        return;
      }
      size_t n1 = a.size(), n2 = b->size();
      bool swap = n1 > n2;
      if (swap) std::swap(n1, n2);
      if (n1 > max_length) n2 = n1;
      else n2 = std::max(n1, max_length - n1);
      if (n1 + n2 > max_length) {
        n1 = max_length / 2;
        n2 = n1 + max_length % 2;
      }
      if (swap) std::swap(n1, n2);
      enc::truncate(a, n1, t.stride, left);
      enc::truncate(*b, n2, t.stride, left);
      return;
    }
    case TruncationStrategy::OnlyFirst:
    case TruncationStrategy::OnlySecond: {
      bool first = t.strategy == TruncationStrategy::OnlyFirst;
      XFMR_CHECK(first || b, "tokenizer: truncation 'only_second' needs a text pair");
      Encoding& target = first ? a : *b;
      XFMR_CHECK(target.size() > to_remove, "tokenizer: the ", first ? "first" : "second", " sequence (",
                 target.size(), " tokens) is too short to truncate to max_length ", max_length, " (", to_remove,
                 " tokens over)");
      enc::truncate(target, target.size() - to_remove, t.stride, left);
      return;
    }
    case TruncationStrategy::None:
      return;
  }
}

size_t padded_length(size_t len, const Padding& p) {
  size_t m = p.pad_to_multiple_of;
  if (m > 0 && len % m) len += m - len % m;
  return len;
}

template <typename Fn>
void run_parallel(size_t n, int threads, Fn&& fn) {
  int nt = threads > 0 ? threads : num_threads();
  if (nt <= 1 || n < 2 || in_parallel_region()) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::exception_ptr err;
  std::mutex mu;
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt)
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
    try {
      fn(static_cast<size_t>(i));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace

Encoding Tokenizer::Impl::encode_sequence(std::string_view text, int32_t type_id) const {
  PreTokenizedString p = added.extract_and_normalize(normalizer.get(), text);
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(p);
  return p.tokenize(*model, type_id);
}

Encoding Tokenizer::Impl::post_process(Encoding a, std::optional<Encoding> b, const EncodeOptions& o) const {
  const Truncation& t = o.truncation;
  if (t.strategy != TruncationStrategy::None) {
    size_t max_length = t.max_length ? t.max_length : model_max_length;
    size_t n_added = post_processor ? post_processor->added_tokens(b.has_value()) : 0;
    if (o.add_special_tokens && n_added > 0) {
      XFMR_CHECK(max_length >= n_added, "tokenizer: max_length ", max_length, " is smaller than the ", n_added,
                 " special tokens added to each sequence");
      max_length -= n_added;
    }
    truncate_pair(a, b, t, max_length);
  }
  Encoding e = post_processor ? post_processor->process(std::move(a), std::move(b), o.add_special_tokens)
                              : enc::default_process(std::move(a), std::move(b));
  const Padding& p = o.padding;
  if (p.strategy != PaddingStrategy::None) {
    size_t target = p.strategy == PaddingStrategy::MaxLength ? (p.length ? p.length : model_max_length) : e.size();
    target = padded_length(target, p);
    XFMR_CHECK(specials.pad, "tokenizer: padding needs a pad token, and this tokenizer has none");
    enc::pad(e, target, specials.pad->id, 0, specials.pad->content, p.direction == Direction::Left);
  }
  return e;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  XFMR_CHECK(f, "tokenizer: cannot open '", path.string(), "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str(), path.string());
}

Tokenizer Tokenizer::from_json(std::string_view text, const std::string& origin) {
  return Tokenizer(load_tokenizer_json(text, origin));
}

Tokenizer Tokenizer::from_pretrained(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  XFMR_CHECK(fs::exists(p), "tokenizer: '", p.string(), "' does not exist");
  bool is_dir = fs::is_directory(p);
  fs::path dir = is_dir ? p : p.parent_path();
  // A folder with tokenizer.json, or a .json file other than the legacy vocab.json.
  bool json_file = is_dir ? fs::exists(p / "tokenizer.json") : p.extension() == ".json" && p.filename() != "vocab.json";
  if (!json_file) return Tokenizer(load_legacy(p));
  Tokenizer t = from_file(is_dir ? p / "tokenizer.json" : p);
  apply_config(*t.impl_, read_tokenizer_config(dir.empty() ? fs::path(".") : dir));
  return t;
}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& o) const {
  check_utf8(text, "text");
  return impl_->post_process(impl_->encode_sequence(text, 0), std::nullopt, o);
}

Encoding Tokenizer::encode_pair(std::string_view text, std::string_view pair, const EncodeOptions& o) const {
  check_utf8(text, "text");
  check_utf8(pair, "text pair");
  return impl_->post_process(impl_->encode_sequence(text, 0), impl_->encode_sequence(pair, 1), o);
}

namespace {
void pad_batch(std::vector<Encoding>& out, const EncodeOptions& o, const Tokenizer::Impl& impl) {
  if (o.padding.strategy != PaddingStrategy::Longest || out.empty()) return;
  size_t longest = 0;
  for (const auto& e : out) longest = std::max(longest, e.size());
  longest = padded_length(longest, o.padding);
  const auto& pad = impl.specials.pad;
  for (auto& e : out) enc::pad(e, longest, pad->id, 0, pad->content, o.padding.direction == Direction::Left);
}
}  // namespace

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, const EncodeOptions& o,
                                              int threads) const {
  std::vector<Encoding> out(texts.size());
  run_parallel(texts.size(), threads, [&](size_t i) { out[i] = encode(texts[i], o); });
  pad_batch(out, o, *impl_);
  return out;
}

std::vector<Encoding> Tokenizer::encode_batch_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                                    const EncodeOptions& o, int threads) const {
  std::vector<Encoding> out(pairs.size());
  run_parallel(pairs.size(), threads, [&](size_t i) { out[i] = encode_pair(pairs[i].first, pairs[i].second, o); });
  pad_batch(out, o, *impl_);
  return out;
}

std::vector<std::string> Tokenizer::convert_ids_to_tokens(std::span<const int32_t> ids, bool skip_special) const {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int32_t id : ids) {
    if (skip_special && is_special_id(id)) continue;
    if (auto t = id_to_token(id)) toks.push_back(std::move(*t));
  }
  return toks;
}

std::string Tokenizer::convert_tokens_to_string(const std::vector<std::string>& tokens) const {
  std::vector<std::string> t = tokens;
  if (!impl_->decoder) {
    std::string s;
    for (size_t i = 0; i < t.size(); ++i) s += (i ? " " : "") + t[i];
    return s;
  }
  impl_->decoder->decode_chain(t);
  std::string s;
  for (const auto& x : t) s += x;
  return s;
}

namespace {
// transformers' clean_up_tokenization.
std::string clean_up_tokenization(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [a, b] : kRules) {
    std::string out;
    size_t pos = 0, hit;
    while ((hit = s.find(a, pos)) != std::string::npos) {
      out.append(s, pos, hit - pos);
      out.append(b);
      pos = hit + a.size();
    }
    out.append(s, pos, std::string::npos);
    s.swap(out);
  }
  return s;
}
}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& o) const {
  std::string s = convert_tokens_to_string(convert_ids_to_tokens(ids, o.skip_special_tokens));
  return o.clean_up_tokenization_spaces ? clean_up_tokenization(std::move(s)) : s;
}

std::vector<std::string> Tokenizer::decode_batch(const std::vector<std::vector<int32_t>>& ids, const DecodeOptions& o,
                                                 int threads) const {
  std::vector<std::string> out(ids.size());
  run_parallel(ids.size(), threads, [&](size_t i) { out[i] = decode(ids[i], o); });
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.token_to_id(token)) return id;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* t = impl_->added.by_id(id)) return t->content;
  return impl_->model->id_to_token(id);
}

size_t Tokenizer::vocab_size(bool with_added) const {
  size_t n = impl_->model->vocab_size();
  if (!with_added) return n;
  for (const auto& t : impl_->added.tokens())
    if (!impl_->model->token_to_id(t.content)) ++n;
  return n;
}

bool Tokenizer::is_special_id(int32_t id) const { return impl_->added.is_special(id); }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added.tokens(); }
const SpecialTokens& Tokenizer::special_tokens() const { return impl_->specials; }
size_t Tokenizer::model_max_length() const { return impl_->model_max_length; }
bool Tokenizer::clean_up_tokenization_spaces() const { return impl_->clean_up_spaces; }
std::string Tokenizer::continuing_subword_prefix() const { return impl_->model->continuing_subword_prefix(); }
std::string Tokenizer::model_type() const { return impl_->model->type_name(); }
size_t Tokenizer::num_special_tokens_to_add(bool pair) const {
  return impl_->post_processor ? impl_->post_processor->added_tokens(pair) : 0;
}

}  // namespace xfmr::tokenizers
