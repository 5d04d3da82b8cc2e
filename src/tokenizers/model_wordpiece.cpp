// WordPiece (greedy longest-match-first with a continuation prefix) and WordLevel models.
#include "tokenizers/components.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

// Shared id <-> token tables of the vocabulary-based models.
class VocabModel : public Model {
 public:
  VocabModel(Vocab vocab, const std::string& where) : vocab_(std::move(vocab)) {
    XFMR_CHECK(!vocab_.empty(), where, ": the vocabulary is empty");
    int32_t max_id = -1;
    vocab_.for_each([&](std::string_view tok, int32_t id) {
      XFMR_CHECK(id >= 0, where, ": negative id ", id, " for token '", tok, "'");
      max_id = std::max(max_id, id);
    });
    XFMR_CHECK(max_id < (1 << 28), where, ": token id ", max_id, " is implausibly large");
    rev_.resize(static_cast<size_t>(max_id) + 1);
    has_.assign(rev_.size(), 0);
    vocab_.for_each([&](std::string_view tok, int32_t id) {
      rev_[static_cast<size_t>(id)] = tok;
      has_[static_cast<size_t>(id)] = 1;
    });
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.get(t); }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= rev_.size() || !has_[static_cast<size_t>(id)]) return std::nullopt;
    return rev_[static_cast<size_t>(id)];
  }
  size_t vocab_size() const override { return vocab_.size(); }

 protected:
  Vocab vocab_;
  std::vector<std::string> rev_;
  std::vector<uint8_t> has_;
};

class WordPiece : public VocabModel {
 public:
  WordPiece(Vocab vocab, std::string unk, std::string prefix, size_t max_chars, const std::string& where)
      : VocabModel(std::move(vocab), where), unk_(std::move(unk)), prefix_(std::move(prefix)), max_chars_(max_chars) {
    unk_id_ = vocab_.get(unk_).value_or(-1);
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    size_t first = out.size();
    if (unicode::count_cps(word) > max_chars_) {
      push_unk(word, out);
      return;
    }
    thread_local std::string key;
    size_t start = 0;
    while (start < word.size()) {
      size_t end = word.size();
      bool found = false;
      while (start < end) {
        std::string_view sub = word.substr(start, end - start);
        FlatStrMap::Hit hit;
        bool ok;
        if (start > 0) {
          key.assign(prefix_);
          key.append(sub);
          ok = vocab_.find(key, hit);
        } else {
          ok = vocab_.find(sub, hit);
        }
        if (ok) {
          out.push_back(Token{hit.value, std::string(hit.key), start, end});
          found = true;
          break;
        }
        // Step back one code point.
        do --end;
        while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(first);
        push_unk(word, out);
        return;
      }
      start = end;
    }
  }
  std::string continuing_subword_prefix() const override { return prefix_; }
  std::string type_name() const override { return "WordPiece"; }

 private:
  void push_unk(std::string_view word, std::vector<Token>& out) const {
    XFMR_CHECK(unk_id_ >= 0, "WordPiece: the unknown token '", unk_, "' is not in the vocabulary");
    out.push_back(Token{unk_id_, unk_, 0, word.size()});
  }
  std::string unk_, prefix_;
  size_t max_chars_;
  int32_t unk_id_;
};

class WordLevel : public VocabModel {
 public:
  WordLevel(Vocab vocab, std::string unk, const std::string& where)
      : VocabModel(std::move(vocab), where), unk_(std::move(unk)) {}
  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    FlatStrMap::Hit hit;
    if (vocab_.find(word, hit)) {
      out.push_back(Token{hit.value, std::string(hit.key), 0, word.size()});
      return;
    }
    auto u = vocab_.get(unk_);
    XFMR_CHECK(u, "WordLevel: the unknown token '", unk_, "' is not in the vocabulary");
    out.push_back(Token{*u, unk_, 0, word.size()});
  }
  std::string type_name() const override { return "WordLevel"; }

 private:
  std::string unk_;
};

}  // namespace

Vocab read_vocab_object(const json& j, const std::string& where) {
  XFMR_CHECK(j.is_object(), where, ": 'vocab' must be an object of token -> id");
  Vocab v;
  v.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    XFMR_CHECK(it.value().is_number_integer(), where, ": vocab entry '", it.key(), "' must have an integer id");
    v.set(it.key(), it.value().get<int32_t>());
  }
  return v;
}

std::unique_ptr<Model> make_wordpiece(Vocab vocab, std::string unk, std::string prefix, size_t max_chars,
                                      const std::string& where) {
  return std::make_unique<WordPiece>(std::move(vocab), std::move(unk), std::move(prefix), max_chars, where);
}

std::unique_ptr<Model> make_wordlevel(Vocab vocab, std::string unk, const std::string& where) {
  return std::make_unique<WordLevel>(std::move(vocab), std::move(unk), where);
}

}  // namespace xfmr::tokenizers
