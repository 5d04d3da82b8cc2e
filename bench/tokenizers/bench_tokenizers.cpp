// xfmr tokenizers throughput on a text file, one encode per line (the same work as
// node/bench_hf.js does with HF's library). Prints one JSON line: median seconds of REPEATS passes
// after a warm-up, input bytes and tokens produced.
// Usage: bench_tokenizers TOKENIZER_DIR_OR_FILE INPUT_TXT THREADS [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "xfmr/tokenizers/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TOKENIZER INPUT THREADS [REPEATS]\n", argv[0]);
    return 2;
  }
  auto tok = xfmr::tokenizers::Tokenizer::from_pretrained(argv[1]);
  std::ifstream f(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string all = ss.str();
  std::vector<std::string> lines;
  for (size_t pos = 0;;) {
    size_t nl = all.find('\n', pos);
    lines.push_back(all.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  int threads = std::atoi(argv[3]);
  int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  const size_t batch = 1024;
  auto pass = [&] {
    size_t tokens = 0;
    auto t0 = std::chrono::steady_clock::now();
    if (threads <= 1) {
      for (const auto& l : lines) tokens += tok.encode(l).size();
    } else {
      for (size_t i = 0; i < lines.size(); i += batch) {
        std::vector<std::string> chunk(lines.begin() + i, lines.begin() + std::min(lines.size(), i + batch));
        for (const auto& e : tok.encode_batch(chunk, {}, threads)) tokens += e.size();
      }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::make_pair(s, tokens);
  };
  pass();  // warm-up
  std::vector<std::pair<double, size_t>> runs;
  for (int r = 0; r < repeats; ++r) runs.push_back(pass());
  std::sort(runs.begin(), runs.end());
  auto med = runs[runs.size() / 2];
  std::printf("{\"impl\": \"xfmr\", \"seconds\": %.6f, \"bytes\": %zu, \"tokens\": %zu, \"lines\": %zu}\n", med.first,
              all.size(), med.second, lines.size());
  return 0;
}
