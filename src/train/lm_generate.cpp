// Sampling from a trained TransformerLM, like pytorch/examples word_language_model/generate.py.
//
// generate.py runs its Transformer on the whole growing sequence *without* a mask (has_mask=False)
// and samples from the last position. This model was trained on windows of bptt words with the causal
// mask, so here each step feeds the last `window` words (default: the training bptt) with the causal
// mask: every position then sees exactly what it saw in training, and positions stay inside the
// trained range of the positional encoding.
#include <cmath>

#include "xfmr/autograd/ops.h"
#include "xfmr/core/error.h"
#include "xfmr/train/lm_trainer.h"

namespace xfmr::train {

std::vector<std::string> generate_lm(LMCheckpoint& ckpt, const LMGenerateOptions& o) {
  XFMR_CHECK(ckpt.model, "generate_lm: the checkpoint has no model");
  XFMR_CHECK(o.temperature >= 1e-3, "generate-lm: --temperature has to be greater or equal 1e-3, got ",
             o.temperature);
  XFMR_CHECK(o.words >= 0, "generate-lm: --words must not be negative, got ", o.words);
  const int64_t window = o.window > 0 ? o.window : ckpt.bptt;
  XFMR_CHECK(window <= ckpt.config.max_len, "generate-lm: window ", window, " exceeds max_len ", ckpt.config.max_len);
  const int64_t ntoken = ckpt.config.ntoken;
  Generator gen(o.seed);

  std::vector<int64_t> seq;
  if (!o.prompt.empty()) {
    Tensor ids = data::encode_lm_lines({o.prompt}, ckpt.vocab, ckpt.tokenization, "--prompt");
    const int64_t* p = ids.data<int64_t>();
    seq.assign(p, p + ids.numel());
    // The whitespace convention ends every line with <eos>; a prompt continues its line.
    if (ckpt.tokenization == data::LMTokenization::Whitespace && seq.size() > 1) seq.pop_back();
  } else {
    // generate.py: input = torch.randint(ntokens, (1, 1)).
    seq.push_back(static_cast<int64_t>(gen.uniform_double() * static_cast<double>(ntoken)));
  }

  ckpt.model->eval();
  NoGradGuard ng;
  std::vector<std::string> words;
  std::vector<double> weights(static_cast<size_t>(ntoken));
  for (int64_t step = 0; step < o.words; ++step) {
    const int64_t len = std::min<int64_t>(window, static_cast<int64_t>(seq.size()));
    std::vector<int64_t> ctx(seq.end() - len, seq.end());
    Tensor input = Tensor::from_vector(ctx, Shape{len, 1});
    Tensor logits = ckpt.model->forward(input, Tensor(), /*is_causal=*/true);  // [len, 1, ntoken]
    Tensor last = logits.narrow(0, len - 1, 1).reshape({ntoken}).contiguous();
    const float* l = last.data<float>();
    // multinomial over exp(logits / temperature); shifting by the maximum changes nothing but the
    // overflow behaviour.
    double mx = -INFINITY;
    for (int64_t k = 0; k < ntoken; ++k) mx = std::max(mx, static_cast<double>(l[k]) / o.temperature);
    double total = 0;
    for (int64_t k = 0; k < ntoken; ++k) total += (weights[k] = std::exp(static_cast<double>(l[k]) / o.temperature - mx));
    double r = gen.uniform_double() * total;
    int64_t pick = ntoken - 1;
    for (int64_t k = 0; k < ntoken; ++k) {
      r -= weights[k];
      if (r < 0) {
        pick = k;
        break;
      }
    }
    seq.push_back(pick);
    words.push_back(ckpt.vocab.token(pick));
  }
  return words;
}

}  // namespace xfmr::train
