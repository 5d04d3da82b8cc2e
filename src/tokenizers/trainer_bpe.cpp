// The BPE merge loop of HF tokenizers' BpeTrainer (models/bpe/trainer.rs), made deterministic.
// The WordPiece trainer is this loop with continuing_subword_prefix "##" (trainer_wordpiece.cpp).
#include <algorithm>
#include <limits>
#include <queue>
#include <set>
#include <unordered_map>

#include "xfmr/core/error.h"
#include "xfmr/core/progress.h"
#include "xfmr/tokenizers/trainer.h"

namespace xfmr::tokenizers {
namespace {

using Pair = uint64_t;  // (left id << 32) | right id: integer order = HF's (left, right) tuple order
Pair make_pair(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
int32_t left_of(Pair p) { return int32_t(p >> 32); }
int32_t right_of(Pair p) { return int32_t(p & 0xffffffffu); }

// Code points of a valid UTF-8 word, each as its own string.
std::vector<std::string> split_chars(const std::string& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.size();) {
    unsigned char c = static_cast<unsigned char>(w[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    XFMR_CHECK(n && i + n <= w.size(), "tokenizer trainer: word is not valid UTF-8 at byte ", i);
    out.push_back(w.substr(i, n));
    i += n;
  }
  return out;
}

uint32_t code_point(const std::string& ch) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(ch.data());
  if (ch.size() == 1) return s[0];
  if (ch.size() == 2) return (uint32_t(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
  if (ch.size() == 3) return (uint32_t(s[0] & 0x0f) << 12) | (uint32_t(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
  return (uint32_t(s[0] & 0x07) << 18) | (uint32_t(s[1] & 0x3f) << 12) | (uint32_t(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

struct Merge {
  uint64_t count;
  Pair pair;
  std::set<size_t> pos;  // words containing the pair
};
struct MergeOrder {  // std::priority_queue pops the largest: higher count, then the smaller pair
  bool operator()(const Merge& a, const Merge& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.pair > b.pair;
  }
};

// HF's Word::merge: replaces every (c1, c2) left to right; returns the pair-count changes.
void merge_word(std::vector<int32_t>& s, int32_t c1, int32_t c2, int32_t repl,
                std::vector<std::pair<Pair, int>>& changes) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == c1 && i + 1 < s.size() && s[i + 1] == c2) {
      if (i > 0) {
        changes.emplace_back(make_pair(s[i - 1], c1), -1);
        changes.emplace_back(make_pair(s[i - 1], repl), 1);
      }
      s[i] = repl;
      s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      if (i + 1 < s.size()) {
        changes.emplace_back(make_pair(c2, s[i + 1]), -1);
        changes.emplace_back(make_pair(repl, s[i + 1]), 1);
      }
    }
  }
}

}  // namespace

TrainedVocab BpeTrainer::train() const {
  const TrainerOptions& o = options_;
  TrainedVocab out;
  std::unordered_map<std::string, int32_t> w2id;
  auto add_token = [&](const std::string& t) {
    auto it = w2id.find(t);
    if (it != w2id.end()) return it->second;
    int32_t id = static_cast<int32_t>(out.vocab.size());
    out.vocab.push_back(t);
    w2id.emplace(t, id);
    return id;
  };
  // 1. special tokens first.
  for (const auto& s : o.special_tokens) add_token(s);

  // 2. the alphabet: characters weighted by word counts, initial ones always kept.
  std::vector<std::string> words;
  std::vector<uint64_t> counts;
  std::unordered_map<std::string, uint64_t> alphabet;
  std::vector<std::vector<std::string>> chars;
  for (const auto& [w, c] : counts_) {
    words.push_back(w);
    counts.push_back(c);
    chars.push_back(split_chars(w));
    for (const auto& ch : chars.back()) alphabet[ch] += c;
  }
  for (const auto& ch : o.initial_alphabet) {
    XFMR_CHECK(split_chars(ch).size() == 1, "tokenizer trainer: initial_alphabet entry '", ch,
               "' is not a single character");
    alphabet[ch] = std::numeric_limits<uint64_t>::max();
  }
  std::vector<std::pair<std::string, uint64_t>> kept(alphabet.begin(), alphabet.end());
  if (o.limit_alphabet && kept.size() > o.limit_alphabet) {
    // Drop the rarest; among equal counts the larger code points (HF's order there is arbitrary).
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second > b.second;
      return code_point(a.first) < code_point(b.first);
    });
    kept.resize(o.limit_alphabet);
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return code_point(a.first) < code_point(b.first); });
  std::unordered_map<std::string, bool> in_alphabet;
  for (const auto& [ch, c] : kept) {
    add_token(ch);
    in_alphabet[ch] = true;
  }

  // 3. words as symbol ids (prefix on non-initial characters, suffix on the last).
  std::vector<std::vector<int32_t>> sym(words.size());
  for (size_t wi = 0; wi < words.size(); ++wi) {
    const auto& cs = chars[wi];
    for (size_t i = 0; i < cs.size(); ++i) {
      if (!in_alphabet.count(cs[i])) continue;
      std::string s = cs[i];
      if (i > 0) s = o.continuing_subword_prefix + s;
      if (i + 1 == cs.size()) s += o.end_of_word_suffix;
      sym[wi].push_back(add_token(s));
    }
  }

  // 4. pair counts and where each pair occurs.
  std::unordered_map<Pair, int64_t> pair_counts;
  std::unordered_map<Pair, std::set<size_t>> where;
  for (size_t wi = 0; wi < sym.size(); ++wi)
    for (size_t i = 0; i + 1 < sym[wi].size(); ++i) {
      Pair p = make_pair(sym[wi][i], sym[wi][i + 1]);
      pair_counts[p] += static_cast<int64_t>(counts[wi]);
      where[p].insert(wi);
    }
  std::priority_queue<Merge, std::vector<Merge>, MergeOrder> queue;
  for (auto& [p, pos] : where)
    if (pair_counts[p] > 0) queue.push(Merge{uint64_t(pair_counts[p]), p, std::move(pos)});
  where.clear();

  // 5. merge until the vocabulary is full or pairs are too rare.
  ProgressBar bar("merges", int64_t(o.vocab_size > out.vocab.size() ? o.vocab_size - out.vocab.size() : 0), "merge");
  if (!o.show_progress) bar.finish();
  std::vector<std::pair<Pair, int>> changes;
  while (out.vocab.size() < o.vocab_size && !queue.empty()) {
    Merge top = queue.top();
    queue.pop();
    int64_t current = pair_counts[top.pair];
    if (top.count != uint64_t(std::max<int64_t>(current, 0))) {
      top.count = uint64_t(std::max<int64_t>(current, 0));
      queue.push(std::move(top));
      continue;
    }
    if (top.count < 1 || o.min_frequency > top.count) break;
    std::string part_a = out.vocab[size_t(left_of(top.pair))];
    std::string part_b = out.vocab[size_t(right_of(top.pair))];
    const std::string& prefix = o.continuing_subword_prefix;
    if (!prefix.empty() && part_b.compare(0, prefix.size(), prefix) == 0) part_b = part_b.substr(prefix.size());
    int32_t new_id = add_token(part_a + part_b);
    out.merges.emplace_back(out.vocab[size_t(left_of(top.pair))], out.vocab[size_t(right_of(top.pair))]);
    for (size_t wi : top.pos) {
      changes.clear();
      merge_word(sym[wi], left_of(top.pair), right_of(top.pair), new_id, changes);
      for (const auto& [p, delta] : changes) {
        pair_counts[p] += delta * static_cast<int64_t>(counts[wi]);
        if (delta > 0) where[p].insert(wi);
      }
    }
    for (auto& [p, pos] : where)
      if (pair_counts[p] > 0) queue.push(Merge{uint64_t(pair_counts[p]), p, std::move(pos)});
    where.clear();
    if (o.show_progress) bar.advance();
  }
  return out;
}

}  // namespace xfmr::tokenizers
