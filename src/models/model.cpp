// PreTrainedModel (identity, persistence, training switch) and the KV cache.
#include "xfmr/models/model.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "blocks.h"
#include "xfmr/io/safetensors.h"

namespace xfmr::models {

// ---------------------------------------------------------------- tasks

const char* task_name(Task t) {
  switch (t) {
    case Task::Base: return "base";
    case Task::SequenceClassification: return "sequence-classification";
    case Task::TokenClassification: return "token-classification";
    case Task::QuestionAnswering: return "question-answering";
    case Task::MaskedLM: return "masked-lm";
    case Task::CausalLM: return "causal-lm";
    case Task::PreTraining: return "pretraining";
  }
  return "?";
}

Task task_from_name(const std::string& n) {
  static const std::map<std::string, Task> names = {
      {"base", Task::Base},
      {"feature-extraction", Task::Base},
      {"sequence-classification", Task::SequenceClassification},
      {"text-classification", Task::SequenceClassification},
      {"sentiment-analysis", Task::SequenceClassification},
      {"zero-shot-classification", Task::SequenceClassification},
      {"token-classification", Task::TokenClassification},
      {"ner", Task::TokenClassification},
      {"question-answering", Task::QuestionAnswering},
      {"masked-lm", Task::MaskedLM},
      {"fill-mask", Task::MaskedLM},
      {"causal-lm", Task::CausalLM},
      {"text-generation", Task::CausalLM},
      {"pretraining", Task::PreTraining},
  };
  auto it = names.find(n);
  if (it == names.end()) {
    std::string all;
    for (auto& [k, v] : names) all += (all.empty() ? "" : ", ") + k;
    xfmr::detail::fail("unknown task '", n, "' (known: ", all, ")");
  }
  return it->second;
}

// ---------------------------------------------------------------- PreTrainedModel

PreTrainedModel::PreTrainedModel(ModelConfig config, std::string architecture, Task task, std::string base_prefix)
    : config_(std::move(config)),
      architecture_(std::move(architecture)),
      task_(task),
      base_prefix_(std::move(base_prefix)) {}

ModelOutput PreTrainedModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                                     const Tensor& token_type_ids) const {
  ModelInputs in;
  in.input_ids = input_ids;
  in.attention_mask = attention_mask;
  in.token_type_ids = token_type_ids;
  return forward(in);
}

CausalLM* PreTrainedModel::as_causal_lm() { return dynamic_cast<CausalLM*>(this); }
const CausalLM* PreTrainedModel::as_causal_lm() const { return dynamic_cast<const CausalLM*>(this); }

void PreTrainedModel::adopt_children(const nn::Module& body) {
  for (auto& [name, child] : body.named_children()) register_module(name, child);
}

float PreTrainedModel::init_std() const { return static_cast<float>(config_.get_float("initializer_range", 0.02)); }

void PreTrainedModel::init_extra(const std::string&, Tensor& t, Generator&) { detail::init_constant(t, 0.0f); }

void PreTrainedModel::init_weights(Generator& gen, const std::function<bool(const std::string&)>& select) {
  detail::init_module_tree(*this, init_std(), gen, select,
                           [&](const std::string& name, Tensor& t) { init_extra(name, t, gen); });
}

void PreTrainedModel::make_trainable() {
  for (auto& [name, t] : named_parameters()) {
    XFMR_CHECK(!detail::is_placeholder(t), architecture_, ": parameter ", name, " was never loaded or initialised");
  }
  to_owned();
  for (auto& [name, t] : named_parameters()) {
    Tensor h = t;
    h.set_requires_grad(true);
  }
}

namespace {
const char* torch_dtype_name(DType d) {
  switch (d) {
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    default: return "float32";
  }
}
}  // namespace

void PreTrainedModel::save_pretrained(const std::filesystem::path& dir, const SaveOptions& options) const {
  namespace fs = std::filesystem;
  XFMR_CHECK(options.dtype == DType::F32 || options.dtype == DType::F16 || options.dtype == DType::BF16,
             "save_pretrained: dtype must be f32, f16 or bf16, got ", dtype_name(options.dtype));
  fs::create_directories(dir);
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint64_t total = 0;
  for (auto& [name, t] : state_dict()) {
    XFMR_CHECK(!detail::is_placeholder(t), "save_pretrained: ", architecture_, " parameter ", name,
               " was never loaded or initialised");
    Tensor c = is_floating(t.dtype()) ? t.detach().to(options.dtype).contiguous() : t.detach().contiguous();
    total += c.nbytes();
    tensors.emplace_back(name, c);
  }
  // Shards (HF's algorithm: state-dict order, a new shard when the next tensor would overflow).
  std::vector<std::vector<std::pair<std::string, Tensor>>> shards(1);
  uint64_t cur = 0;
  for (auto& nt : tensors) {
    uint64_t nb = nt.second.nbytes();
    if (options.max_shard_bytes > 0 && cur > 0 && cur + nb > options.max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(nt);
    cur += nb;
  }
  // Remove weight files of an earlier save so the folder holds exactly this model.
  std::vector<fs::path> stale;
  for (auto& e : fs::directory_iterator(dir)) {
    std::string f = e.path().filename().string();
    if (f == "model.safetensors" || f == "model.safetensors.index.json" ||
        (f.rfind("model-", 0) == 0 && f.size() > 12 && f.substr(f.size() - 12) == ".safetensors"))
      stale.push_back(e.path());
  }
  for (auto& p : stale) fs::remove(p);
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (shards.size() == 1) {
    io::save_safetensors(dir / "model.safetensors", shards[0], meta);
  } else {
    nlohmann::json index;
    index["metadata"]["total_size"] = total;
    nlohmann::json map = nlohmann::json::object();
    char fname[64];
    for (size_t i = 0; i < shards.size(); ++i) {
      std::snprintf(fname, sizeof fname, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      io::save_safetensors(dir / fname, shards[i], meta);
      for (auto& [n, t] : shards[i]) map[n] = fname;
    }
    index["weight_map"] = map;
    std::FILE* f = std::fopen((dir / "model.safetensors.index.json").c_str(), "wb");
    XFMR_CHECK(f != nullptr, "save_pretrained: cannot write ", (dir / "model.safetensors.index.json").string());
    std::string text = index.dump(2) + "\n";
    std::fwrite(text.data(), 1, text.size(), f);
    XFMR_CHECK(std::fclose(f) == 0, "save_pretrained: write failed for model.safetensors.index.json");
  }
  ModelConfig cfg = config_;
  cfg.set_json("architectures", nlohmann::json::array({architecture_}).dump());
  cfg.set("torch_dtype", std::string(torch_dtype_name(options.dtype)));
  cfg.save(dir / "config.json");
}

// ---------------------------------------------------------------- KVCache

int64_t KVCache::batch_size() const {
  for (auto& l : layers_)
    if (l.k.defined()) return l.k.size(0);
  return 0;
}

size_t KVCache::nbytes() const {
  size_t n = 0;
  for (auto& l : layers_)
    for (const Tensor* t : {&l.k, &l.v, &l.cross_k, &l.cross_v})
      if (t->defined()) n += t->nbytes();
  return n;
}

void KVCache::reset() {
  for (auto& l : layers_) l = Layer();
  length_ = 0;
}

std::pair<Tensor, Tensor> KVCache::append(int layer, const Tensor& k_new, const Tensor& v_new) {
  XFMR_CHECK(layer >= 0 && layer < num_layers(), "KVCache::append: layer ", layer, " of ", num_layers());
  XFMR_CHECK(k_new.dim() == 4 && v_new.dim() == 4 && k_new.size(0) == v_new.size(0) && k_new.size(2) == v_new.size(2),
             "KVCache::append: expected k/v [B, H, L, D], got ", k_new.describe(), " and ", v_new.describe());
  Layer& l = layers_[static_cast<size_t>(layer)];
  const int64_t B = k_new.size(0), H = k_new.size(1), L = k_new.size(2), D = k_new.size(3), Dv = v_new.size(3);
  const int64_t need = length_ + L;
  if (l.k.defined() && length_ > 0) {
    XFMR_CHECK(l.k.size(0) == B && l.k.size(1) == H && l.k.size(3) == D && l.v.size(3) == Dv,
               "KVCache::append: layer ", layer, " holds ", l.k.describe(), ", cannot append ", k_new.describe(),
               " (batch size or heads changed; reset() or reorder() the cache first)");
  }
  if (!l.k.defined() || l.k.size(2) < need || l.k.size(0) != B) {
    int64_t old_cap = l.k.defined() ? l.k.size(2) : 0;
    int64_t cap = std::max<int64_t>({need, 2 * old_cap, 32});
    Tensor nk = Tensor::empty({B, H, cap, D}), nv = Tensor::empty({B, H, cap, Dv});
    if (length_ > 0) {
      nk.narrow(2, 0, length_).copy_(l.k.narrow(2, 0, length_));
      nv.narrow(2, 0, length_).copy_(l.v.narrow(2, 0, length_));
    }
    l.k = nk;
    l.v = nv;
  }
  l.k.narrow(2, length_, L).copy_(k_new);
  l.v.narrow(2, length_, L).copy_(v_new);
  return {l.k.narrow(2, 0, need), l.v.narrow(2, 0, need)};
}

void KVCache::reorder(const std::vector<int64_t>& rows) {
  for (auto& l : layers_) {
    for (Tensor* t : {&l.k, &l.v, &l.cross_k, &l.cross_v}) {
      if (!t->defined()) continue;
      const int64_t B = t->size(0);
      Shape s = t->shape();
      s[0] = static_cast<int64_t>(rows.size());
      Tensor n = Tensor::empty(s);
      const bool self = t == &l.k || t == &l.v;
      for (size_t i = 0; i < rows.size(); ++i) {
        XFMR_CHECK(rows[i] >= 0 && rows[i] < B, "KVCache::reorder: row ", rows[i], " out of range for batch ", B);
        Tensor dst = n.select(0, static_cast<int64_t>(i)), src = t->select(0, rows[i]);
        if (self && length_ < s[2]) {
          dst = dst.narrow(1, 0, length_);
          src = src.narrow(1, 0, length_);
        }
        dst.copy_(src);
      }
      *t = n;
    }
  }
}

void KVCache::set_cross(int layer, const Tensor& k, const Tensor& v) {
  XFMR_CHECK(layer >= 0 && layer < num_layers(), "KVCache::set_cross: layer ", layer, " of ", num_layers());
  layers_[static_cast<size_t>(layer)].cross_k = k;
  layers_[static_cast<size_t>(layer)].cross_v = v;
}

std::pair<Tensor, Tensor> KVCache::cross(int layer) const {
  XFMR_CHECK(layer >= 0 && layer < num_layers(), "KVCache::cross: layer ", layer, " of ", num_layers());
  return {layers_[static_cast<size_t>(layer)].cross_k, layers_[static_cast<size_t>(layer)].cross_v};
}

}  // namespace xfmr::models
