// The models API: config access, registry, from_config / save_pretrained / from_pretrained round
// trips for every registered class, prefix handling, tied weights, missing/mismatched weights, new
// heads, shards, f16 storage, train/eval, gradients, the KV cache - and HF parity of the families
// without their own fixtures (ALBERT, ELECTRA, XLM-RoBERTa, CamemBERT) through exact weight
// mappings from the BERT / RoBERTa fixtures.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "common/test_util.h"
#include "fixture_runner.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/io/safetensors.h"

using namespace xfmr;
using namespace xfmr::models;
using nlohmann::json;
namespace fs = std::filesystem;
using xfmr::test::TempDir;

namespace {

// A tiny config of a model type (HF field names), for `architecture`.
ModelConfig tiny_config(const std::string& model_type, const std::string& architecture) {
  json j;
  j["model_type"] = model_type;
  j["architectures"] = {architecture};
  if (model_type == "gpt2") {
    j.update({{"vocab_size", 61}, {"n_embd", 16}, {"n_layer", 2}, {"n_head", 4}, {"n_positions", 24},
              {"n_inner", 20}, {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}, {"pad_token_id", 0}});
  } else if (model_type == "distilbert") {
    j.update({{"vocab_size", 61}, {"dim", 16}, {"n_layers", 2}, {"n_heads", 4}, {"hidden_dim", 20},
              {"max_position_embeddings", 24}, {"activation", "gelu"}, {"pad_token_id", 0}});
  } else {
    j.update({{"vocab_size", 61}, {"hidden_size", 16}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
              {"intermediate_size", 20}, {"max_position_embeddings", 24}, {"type_vocab_size", 2},
              {"hidden_act", "gelu"}, {"layer_norm_eps", 1e-12}, {"pad_token_id", 1}});
    if (model_type == "albert")
      j.update({{"embedding_size", 8}, {"num_hidden_groups", 1}, {"inner_group_num", 1}, {"hidden_dropout_prob", 0.1}});
    if (model_type == "electra") j["embedding_size"] = 8;
  }
  j["id2label"] = {{"0", "NEG"}, {"1", "POS"}};
  j["label2id"] = {{"NEG", 0}, {"POS", 1}};
  return ModelConfig::from_json(j.dump());
}

ModelInputs tiny_inputs() {
  ModelInputs in;
  in.input_ids = Tensor::from_vector<int64_t>({5, 7, 9, 11, 13, 2, 6, 8, 10, 1, 1, 1}, {2, 6});
  in.attention_mask = Tensor::from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {2, 6});
  return in;
}

void expect_same_outputs(const ModelOutput& a, const ModelOutput& b, double tol = 0.0) {
  auto eq = [&](const Tensor& x, const Tensor& y, const char* what) {
    ASSERT_EQ(x.defined(), y.defined()) << what;
    if (x.defined()) {
      std::string msg = test::compare_close(x, y, tol, tol);
      EXPECT_TRUE(msg.empty()) << what << ": " << msg;
    }
  };
  eq(a.last_hidden_state, b.last_hidden_state, "last_hidden_state");
  eq(a.pooler_output, b.pooler_output, "pooler_output");
  eq(a.logits, b.logits, "logits");
  eq(a.start_logits, b.start_logits, "start_logits");
  eq(a.end_logits, b.end_logits, "end_logits");
}

LoadOptions quiet(std::vector<std::string>* warnings = nullptr) {
  LoadOptions o;
  o.on_warning = [warnings](const std::string& w) {
    if (warnings) warnings->push_back(w);
  };
  return o;
}

// Rewrites a checkpoint: `map` returns the new name ("" drops the tensor); extra tensors are added.
void rewrite_checkpoint(const fs::path& src, const fs::path& dst, const std::function<std::string(const std::string&)>& map,
                        const std::vector<std::pair<std::string, Tensor>>& extra = {}) {
  auto files = io::WeightFiles::open(src);
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& n : files.names()) {
    std::string m = map(n);
    if (!m.empty()) out.emplace_back(m, files.get(n));
  }
  for (auto& e : extra) out.push_back(e);
  fs::create_directories(dst);
  io::save_safetensors(dst / "model.safetensors", out, {{"format", "pt"}});
}

std::set<std::string> checkpoint_names(const fs::path& dir) {
  auto n = io::WeightFiles::open(dir).names();
  return {n.begin(), n.end()};
}

// ---------------------------------------------------------------- config and registry

TEST(ModelConfig, FieldsDefaultsAndAliases) {
  ModelConfig c = ModelConfig::from_json(R"({"model_type": "gpt2", "n_embd": 48, "n_layer": 3, "n_head": 4,
      "n_positions": 256, "eos_token_id": [50256, 7], "task_specific_params": {"text-generation": {"max_length": 50}}})");
  EXPECT_EQ(c.hidden_size(), 48);
  EXPECT_EQ(c.get_int("hidden_size", 0), 48);  // attribute_map alias
  EXPECT_EQ(c.num_hidden_layers(), 3);
  EXPECT_EQ(c.max_position_embeddings(), 256);
  EXPECT_EQ(c.eos_token_id().value(), 50256);
  EXPECT_FALSE(c.pad_token_id().has_value());
  EXPECT_EQ(c.num_labels(), 2);  // HF default
  EXPECT_EQ(c.id2label().at(1), "LABEL_1");
  EXPECT_EQ(c.label2id().at("LABEL_0"), 0);
  EXPECT_TRUE(c.tie_word_embeddings());
  EXPECT_EQ(json::parse(c.get_json("task_specific_params"))["text-generation"]["max_length"], 50);
  c.set("hidden_size", int64_t{64});  // written to n_embd
  EXPECT_EQ(c.get_int("n_embd", 0), 64);
  c.set_labels({"neg", "neu", "pos"});
  EXPECT_EQ(c.num_labels(), 3);
  EXPECT_EQ(c.label2id().at("pos"), 2);
  auto again = ModelConfig::from_json(c.to_json_string());
  EXPECT_EQ(again.id2label().at(1), "neu");
  ModelConfig bad = ModelConfig::from_json(R"({"model_type": "bert", "hidden_size": "big"})", "x/config.json");
  try {
    bad.hidden_size();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x/config.json: 'hidden_size' must be an integer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ModelConfig::from_json("{not json"), Error);
}

TEST(Registry, KnowsTheFamiliesAndNamesWhatIsMissing) {
  auto types = supported_model_types();
  for (const char* t : {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "gpt2", "albert", "electra"})
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  EXPECT_EQ(find_architecture("XLMRobertaForMaskedLM")->model_type, "xlm-roberta");
  EXPECT_EQ(find_architecture("gpt2", Task::CausalLM)->name, "GPT2LMHeadModel");
  auto message = [](const ModelConfig& c, LoadOptions o = {}) {
    try {
      resolve_architecture(c, o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(ModelConfig::from_json(R"({"model_type": "mamba"})")).find("unknown model_type 'mamba'"),
            std::string::npos);
  EXPECT_NE(message(ModelConfig::from_json(R"({"model_type": "bert", "architectures": ["BertForNextSentencePrediction"]})"))
                .find("unsupported architecture 'BertForNextSentencePrediction'"),
            std::string::npos);
  LoadOptions o;
  o.task = Task::CausalLM;
  EXPECT_NE(message(ModelConfig::from_json(R"({"model_type": "bert"})"), o).find("has no causal-lm class"),
            std::string::npos);
  // Task selection picks the family's class (HF AutoModelForXxx).
  o.task = Task::TokenClassification;
  EXPECT_EQ(resolve_architecture(ModelConfig::from_json(R"({"model_type": "camembert"})"), o).name,
            "CamembertForTokenClassification");
  // Unsupported options are named.
  ModelConfig rel = tiny_config("bert", "BertModel");
  rel.set("position_embedding_type", std::string("relative_key"));
  try {
    AutoModel::from_config(rel);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position_embedding_type 'relative_key'"), std::string::npos) << e.what();
  }
  ModelConfig act = tiny_config("bert", "BertModel");
  act.set("hidden_act", std::string("quick_gelu"));
  EXPECT_THROW(AutoModel::from_config(act), Error);
  ModelConfig heads = tiny_config("bert", "BertModel");
  heads.set("num_attention_heads", int64_t{5});
  EXPECT_THROW(AutoModel::from_config(heads), Error);
}

// ---------------------------------------------------------------- every class: init, save, load

TEST(Models, EveryArchitectureRoundTripsThroughSavePretrained) {
  NoGradGuard no_grad;
  for (const std::string& name : supported_architectures()) {
    SCOPED_TRACE(name);
    const ArchitectureSpec* spec = find_architecture(name);
    ModelConfig cfg = tiny_config(spec->model_type, name);
    auto m = AutoModel::from_config(cfg, {.seed = 7});
    EXPECT_EQ(m->architecture(), name);
    EXPECT_TRUE(m->is_training());
    m->eval();
    ModelInputs in = tiny_inputs();
    if (!m->accepts_token_type_ids()) in.token_type_ids = Tensor();
    ModelOutput a = m->forward(in);
    const int64_t B = 2, L = 6;
    ASSERT_TRUE(a.last_hidden_state.defined());
    EXPECT_EQ(a.last_hidden_state.size(0), B);
    switch (spec->task) {
      case Task::Base: break;
      case Task::SequenceClassification: EXPECT_EQ(a.logits.shape(), Shape({B, 2})); break;
      case Task::TokenClassification: EXPECT_EQ(a.logits.shape(), Shape({B, L, 2})); break;
      case Task::QuestionAnswering:
        EXPECT_EQ(a.start_logits.shape(), Shape({B, L}));
        EXPECT_EQ(a.end_logits.shape(), Shape({B, L}));
        break;
      case Task::MaskedLM:
      case Task::CausalLM: EXPECT_EQ(a.logits.shape(), Shape({B, L, 61})); break;
      case Task::PreTraining: EXPECT_EQ(a.logits.shape(), Shape({B, L})); break;
    }
    TempDir dir;
    m->save_pretrained(dir.path);
    auto saved = ModelConfig::from_file(dir.path);
    EXPECT_EQ(saved.architectures(), std::vector<std::string>{name});
    EXPECT_EQ(saved.torch_dtype(), "float32");
    // Tied weights are stored once: every saved name is a parameter of ours, aliases are absent.
    auto names = checkpoint_names(dir.path);
    for (auto& [alias, target] : spec->tied) {
      EXPECT_FALSE(names.count(alias)) << alias;
      EXPECT_TRUE(names.count(target)) << target;
    }
    EXPECT_EQ(static_cast<int64_t>(names.size()), static_cast<int64_t>(m->state_dict().size()));
    std::vector<std::string> warnings;
    auto loaded = AutoModel::from_pretrained(dir.path.string(), quiet(&warnings));
    EXPECT_TRUE(warnings.empty()) << warnings[0];
    EXPECT_FALSE(loaded->is_training());
    EXPECT_EQ(loaded->num_parameters(), m->num_parameters());
    EXPECT_EQ(loaded->load_report().converted_tensors, 0);
    expect_same_outputs(loaded->forward(in), a);
  }
}

TEST(Models, ParameterNamesFollowHuggingFace) {
  auto m = AutoModel::from_config(tiny_config("bert", "BertForMaskedLM"));
  std::set<std::string> names;
  for (auto& [n, t] : m->state_dict()) names.insert(n);
  for (const char* n : {"bert.embeddings.word_embeddings.weight", "bert.embeddings.LayerNorm.bias",
                        "bert.encoder.layer.1.attention.self.query.weight", "bert.encoder.layer.0.attention.output.LayerNorm.weight",
                        "bert.encoder.layer.0.intermediate.dense.bias", "bert.encoder.layer.1.output.dense.weight",
                        "cls.predictions.bias", "cls.predictions.transform.dense.weight",
                        "cls.predictions.transform.LayerNorm.weight"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_FALSE(names.count("cls.predictions.decoder.weight"));
  auto g = AutoModel::from_config(tiny_config("gpt2", "GPT2LMHeadModel"));
  names.clear();
  for (auto& [n, t] : g->state_dict()) names.insert(n);
  for (const char* n : {"transformer.wte.weight", "transformer.h.1.attn.c_attn.weight", "transformer.h.0.mlp.c_proj.bias",
                        "transformer.ln_f.weight"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(g->state_dict().size(), 4 + 2 * 12u);
  auto base = AutoModel::from_config(tiny_config("distilbert", "DistilBertModel"));
  EXPECT_NE(base->find_tensor("transformer.layer.1.ffn.lin2.weight"), nullptr);
  EXPECT_EQ(base->find_tensor("distilbert.embeddings.word_embeddings.weight"), nullptr);
  // Conv1D weights are [in, out].
  EXPECT_EQ(g->find_tensor("transformer.h.0.mlp.c_fc.weight")->shape(), Shape({16, 20}));
}

TEST(Models, HfInitialisation) {
  ModelConfig cfg = tiny_config("gpt2", "GPT2LMHeadModel");
  cfg.set("initializer_range", 0.5);
  cfg.set("vocab_size", int64_t{2000});
  auto m = AutoModel::from_config(cfg, {.seed = 3});
  auto stddev = [](const Tensor& t) {
    auto v = t.to_float_vector();
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    s /= v.size();
    return std::sqrt(s2 / v.size() - s * s);
  };
  EXPECT_NEAR(stddev(*m->find_tensor("transformer.wte.weight")), 0.5, 0.02);
  EXPECT_NEAR(stddev(*m->find_tensor("transformer.h.0.attn.c_attn.weight")), 0.5, 0.05);
  EXPECT_NEAR(stddev(*m->find_tensor("transformer.h.0.mlp.c_proj.weight")), 0.5 / std::sqrt(4.0), 0.04);
  EXPECT_EQ(m->find_tensor("transformer.h.0.attn.c_attn.bias")->to_float_vector(), std::vector<float>(48, 0.0f));
  EXPECT_EQ(m->find_tensor("transformer.h.0.ln_1.weight")->to_float_vector(), std::vector<float>(16, 1.0f));
  auto b = AutoModel::from_config(tiny_config("bert", "BertModel"));
  Tensor pad_row = b->find_tensor("embeddings.word_embeddings.weight")->select(0, 1);  // pad_token_id 1
  EXPECT_EQ(pad_row.to_float_vector(), std::vector<float>(16, 0.0f));
  // Same seed, same weights.
  auto b2 = AutoModel::from_config(tiny_config("bert", "BertModel"));
  EXPECT_EQ(b->find_tensor("encoder.layer.0.attention.self.key.weight")->to_float_vector(),
            b2->find_tensor("encoder.layer.0.attention.self.key.weight")->to_float_vector());
}

// ---------------------------------------------------------------- loading rules

TEST(Loading, CheckpointsWithAndWithoutTheBasePrefix) {
  NoGradGuard no_grad;
  auto m = AutoModel::from_config(tiny_config("bert", "BertForSequenceClassification"));
  m->eval();
  ModelInputs in = tiny_inputs();
  ModelOutput ref = m->forward(in);
  TempDir dir;
  m->save_pretrained(dir.path);
  // Head model from a prefix-less checkpoint (base names without "bert." + head names).
  TempDir bare;
  rewrite_checkpoint(dir.path, bare.path, [](const std::string& n) {
    return n.rfind("bert.", 0) == 0 ? n.substr(5) : n;
  });
  fs::copy_file(dir.path / "config.json", bare.path / "config.json");
  auto h = AutoModel::from_pretrained(bare.path.string(), quiet());
  EXPECT_TRUE(h->load_report().added_prefix);
  expect_same_outputs(h->forward(in), ref);
  // Base model from the head checkpoint: prefix removed, head weights unused (a warning).
  std::vector<std::string> warnings;
  LoadOptions o = quiet(&warnings);
  o.task = Task::Base;
  auto base = AutoModel::from_pretrained(dir.path.string(), o);
  EXPECT_EQ(base->architecture(), "BertModel");
  EXPECT_TRUE(base->load_report().removed_prefix);
  EXPECT_EQ(base->load_report().unexpected_keys, (std::vector<std::string>{"classifier.bias", "classifier.weight"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("were not used when initializing BertModel: [classifier.bias, classifier.weight]"),
            std::string::npos)
      << warnings[0];
  ModelOutput b = base->forward(in);
  EXPECT_TENSOR_CLOSE(b.last_hidden_state, ref.last_hidden_state, 0, 0);
  EXPECT_TENSOR_CLOSE(b.pooler_output, ref.pooler_output, 0, 0);
}

TEST(Loading, LegacyNamesAndBuffersAreAccepted) {
  NoGradGuard no_grad;
  auto m = AutoModel::from_config(tiny_config("bert", "BertForMaskedLM"));
  m->eval();
  ModelInputs in = tiny_inputs();
  ModelOutput ref = m->forward(in);
  TempDir dir, legacy;
  m->save_pretrained(dir.path);
  // LayerNorm.gamma/beta, a stored tied decoder, position_ids and token_type_ids buffers.
  Tensor dec = m->find_tensor("bert.embeddings.word_embeddings.weight")->clone();
  rewrite_checkpoint(
      dir.path, legacy.path,
      [](const std::string& n) {
        std::string r = n;
        auto swap = [&](const std::string& from, const std::string& to) {
          if (r.size() >= from.size() && r.compare(r.size() - from.size(), from.size(), from) == 0)
            r = r.substr(0, r.size() - from.size()) + to;
        };
        swap("LayerNorm.weight", "LayerNorm.gamma");
        swap("LayerNorm.bias", "LayerNorm.beta");
        return r;
      },
      {{"cls.predictions.decoder.weight", dec},
       {"bert.embeddings.position_ids", Tensor::arange(0, 24).view({1, 24})},
       {"bert.embeddings.token_type_ids", Tensor::zeros({1, 24}, DType::I64)}});
  fs::copy_file(dir.path / "config.json", legacy.path / "config.json");
  std::vector<std::string> warnings;
  auto l = AutoModel::from_pretrained(legacy.path.string(), quiet(&warnings));
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  EXPECT_EQ(l->load_report().ignored_keys.size(), 3u);
  expect_same_outputs(l->forward(in), ref);
}

TEST(Loading, MissingWeightsAreAnErrorNamingThem) {
  auto m = AutoModel::from_config(tiny_config("roberta", "RobertaForTokenClassification"));
  TempDir dir, broken;
  m->save_pretrained(dir.path);
  fs::copy_file(dir.path / "config.json", broken.path / "config.json");
  rewrite_checkpoint(dir.path, broken.path, [](const std::string& n) {
    return n == "roberta.encoder.layer.1.output.dense.weight" ? "" : n;
  });
  try {
    AutoModel::from_pretrained(broken.path.string(), quiet());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("RobertaForTokenClassification"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing from the checkpoint: roberta.encoder.layer.1.output.dense.weight"), std::string::npos)
        << msg;
  }
  // Missing head weights: an error unless a new head is allowed.
  TempDir headless;
  fs::copy_file(dir.path / "config.json", headless.path / "config.json");
  rewrite_checkpoint(dir.path, headless.path, [](const std::string& n) { return n.rfind("classifier.", 0) == 0 ? "" : n; });
  try {
    AutoModel::from_pretrained(headless.path.string(), quiet());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("allow_new_head"), std::string::npos) << e.what();
  }
  std::vector<std::string> warnings;
  LoadOptions o = quiet(&warnings);
  o.allow_new_head = true;
  auto h = AutoModel::from_pretrained(headless.path.string(), o);
  EXPECT_EQ(h->load_report().missing_keys, (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("newly initialized: [classifier.bias, classifier.weight]"), std::string::npos) << warnings[0];
  // A wrong shape in the base model is an error too.
  TempDir wrong;
  fs::copy_file(dir.path / "config.json", wrong.path / "config.json");
  rewrite_checkpoint(dir.path, wrong.path,
                     [](const std::string& n) { return n == "roberta.embeddings.LayerNorm.bias" ? "" : n; },
                     {{"roberta.embeddings.LayerNorm.bias", Tensor::zeros({17})}});
  try {
    AutoModel::from_pretrained(wrong.path.string(), quiet());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("size mismatch: roberta.embeddings.LayerNorm.bias"), std::string::npos)
        << e.what();
  }
  // No weights at all.
  TempDir empty;
  fs::copy_file(dir.path / "config.json", empty.path / "config.json");
  EXPECT_THROW(AutoModel::from_pretrained(empty.path.string()), Error);
}

TEST(Loading, NewClassificationHeadOnAPretrainedBody) {
  NoGradGuard no_grad;
  auto mlm = AutoModel::from_config(tiny_config("bert", "BertForMaskedLM"));
  mlm->eval();
  TempDir dir;
  mlm->save_pretrained(dir.path);
  std::vector<std::string> warnings;
  LoadOptions o = quiet(&warnings);
  o.task = Task::SequenceClassification;
  o.labels = {"a", "b", "c"};
  o.trainable = true;
  auto cls = AutoModel::from_pretrained(dir.path.string(), o);
  EXPECT_EQ(cls->architecture(), "BertForSequenceClassification");
  EXPECT_EQ(cls->config().num_labels(), 3);
  EXPECT_EQ(cls->config().id2label().at(2), "c");
  ASSERT_EQ(warnings.size(), 2u);  // new classifier + pooler, and the unused MLM head
  EXPECT_NE(warnings[0].find("bert.pooler.dense.weight, classifier.bias, classifier.weight"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[1].find("cls.predictions.bias"), std::string::npos) << warnings[1];
  ModelInputs in = tiny_inputs();
  EXPECT_EQ(cls->forward(in).logits.shape(), Shape({2, 3}));
  EXPECT_TENSOR_CLOSE(cls->forward(in).last_hidden_state, mlm->forward(in).last_hidden_state, 0, 0);
  for (auto& [n, t] : cls->named_parameters()) {
    EXPECT_TRUE(t.requires_grad()) << n;
    EXPECT_TRUE(t.storage()->owned() && t.storage()->writable()) << n;
  }
  // num_labels different from a classification checkpoint: the mismatched head is re-initialised.
  TempDir two;
  cls->save_pretrained(two.path);
  LoadOptions five = quiet(&warnings);
  five.num_labels = 5;
  auto c5 = AutoModel::from_pretrained(two.path.string(), five);
  EXPECT_EQ(c5->load_report().mismatched_keys.size(), 2u);
  EXPECT_EQ(c5->forward(in).logits.shape(), Shape({2, 5}));
  EXPECT_EQ(c5->config().id2label().at(4), "LABEL_4");
}

TEST(Loading, ShardedCheckpoints) {
  NoGradGuard no_grad;
  auto m = AutoModel::from_config(tiny_config("electra", "ElectraForMaskedLM"));
  m->eval();
  TempDir dir;
  m->save_pretrained(dir.path, {.max_shard_bytes = 4096});
  EXPECT_TRUE(fs::exists(dir.path / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir.path / "model.safetensors"));
  auto index = test::read_json(dir.path / "model.safetensors.index.json");
  std::set<std::string> files;
  for (auto& [k, v] : index["weight_map"].items()) files.insert(v.get<std::string>());
  EXPECT_GT(files.size(), 2u);
  auto l = AutoModel::from_pretrained(dir.path.string(), quiet());
  EXPECT_EQ(l->load_report().weight_files.size(), files.size());
  expect_same_outputs(l->forward(tiny_inputs()), m->forward(tiny_inputs()));
  // Saving again unsharded replaces the shards.
  m->save_pretrained(dir.path);
  EXPECT_FALSE(fs::exists(dir.path / "model.safetensors.index.json"));
  EXPECT_EQ(io::WeightFiles::open(dir.path).files().size(), 1u);
}

TEST(Loading, HalfPrecisionCheckpointsUpcastOrKept) {
  NoGradGuard no_grad;
  for (DType dt : {DType::F16, DType::BF16}) {
    for (const char* arch : {"GPT2LMHeadModel", "DistilBertForMaskedLM"}) {
      SCOPED_TRACE(std::string(arch) + " " + dtype_name(dt));
      auto m = AutoModel::from_config(tiny_config(find_architecture(arch)->model_type, arch));
      TempDir dir;
      m->save_pretrained(dir.path, {.dtype = dt});
      EXPECT_EQ(ModelConfig::from_file(dir.path).torch_dtype(), dt == DType::F16 ? "float16" : "bfloat16");
      auto up = AutoModel::from_pretrained(dir.path.string(), quiet());
      LoadOptions keep = quiet();
      keep.keep_stored_dtype = true;
      auto kept = AutoModel::from_pretrained(dir.path.string(), keep);
      EXPECT_EQ(up->load_report().stored_dtype, dtype_safetensors_name(dt));
      for (auto& [n, t] : up->named_parameters()) EXPECT_EQ(t.dtype(), DType::F32) << n;
      int64_t half = 0;
      for (auto& [n, t] : kept->named_parameters()) half += t.dtype() == dt;
      EXPECT_GT(half, 0);
      ModelInputs in = tiny_inputs();
      in.token_type_ids = Tensor();
      expect_same_outputs(kept->forward(in), up->forward(in), 1e-5);
      // Trainable copies are f32.
      kept->make_trainable();
      for (auto& [n, t] : kept->named_parameters()) EXPECT_EQ(t.dtype(), DType::F32) << n;
      expect_same_outputs(kept->forward(in), up->forward(in), 1e-5);
    }
  }
}

TEST(Loading, LoadedWeightsAreMemoryMappedViews) {
  auto m = AutoModel::from_config(tiny_config("bert", "BertModel"));
  TempDir dir;
  m->save_pretrained(dir.path);
  auto l = AutoModel::from_pretrained(dir.path.string());
  for (auto& [n, t] : l->named_parameters()) {
    EXPECT_FALSE(t.storage()->owned()) << n;
    EXPECT_FALSE(t.storage()->writable()) << n;
    EXPECT_FALSE(t.requires_grad()) << n;
  }
  EXPECT_GT(l->load_report().zero_copy_tensors, 0);
  EXPECT_EQ(l->load_report().converted_tensors, 0);
}

// ---------------------------------------------------------------- training mode

TEST(Training, DropoutOnlyInTrainModeAndGradientsReachEveryWeight) {
  for (const char* arch : {"BertForMaskedLM", "GPT2LMHeadModel", "DistilBertForSequenceClassification",
                           "RobertaForSequenceClassification", "AlbertForMaskedLM", "ElectraForTokenClassification"}) {
    SCOPED_TRACE(arch);
    auto m = AutoModel::from_config(tiny_config(find_architecture(arch)->model_type, arch));
    ModelInputs in = tiny_inputs();
    if (!m->accepts_token_type_ids()) in.token_type_ids = Tensor();
    Tensor a = m->forward(in).logits, b = m->forward(in).logits;  // training mode: dropout active
    EXPECT_FALSE(test::compare_close(a, b, 1e-6, 0).empty()) << "dropout should change the outputs";
    m->eval();
    EXPECT_TENSOR_CLOSE(m->forward(in).logits, m->forward(in).logits, 0, 0);
    m->train();
    Tensor loss = sum(mul(m->forward(in).logits, m->forward(in).logits));
    backward(loss);
    for (auto& [n, t] : m->named_parameters()) {
      // Position rows beyond the input and unused token rows get zero gradients, but every tensor gets one.
      EXPECT_TRUE(t.grad().defined()) << n;
    }
  }
}

TEST(Models, LogitsAtSelectedPositionsOnly) {
  NoGradGuard no_grad;
  for (const std::string& name : supported_architectures()) {
    const ArchitectureSpec* spec = find_architecture(name);
    if (spec->task != Task::MaskedLM && spec->task != Task::CausalLM) continue;
    SCOPED_TRACE(name);
    auto m = AutoModel::from_config(tiny_config(spec->model_type, name));
    m->eval();
    ModelInputs in = tiny_inputs();
    if (!m->accepts_token_type_ids()) in.token_type_ids = Tensor();
    Tensor full = m->forward(in).logits;
    in.logits_positions = Tensor::from_vector<int64_t>({0, 2, 1, 0, 1, 5}, {3, 2});
    Tensor some = m->forward(in).logits;
    ASSERT_EQ(some.shape(), Shape({3, full.size(-1)}));
    EXPECT_TENSOR_CLOSE(some.select(0, 0), full.select(0, 0).select(0, 2), 1e-6, 1e-6);
    EXPECT_TENSOR_CLOSE(some.select(0, 1), full.select(0, 1).select(0, 0), 1e-6, 1e-6);
    EXPECT_TENSOR_CLOSE(some.select(0, 2), full.select(0, 1).select(0, 5), 1e-6, 1e-6);
    in.logits_positions = Tensor::from_vector<int64_t>({0, 6}, {1, 2});
    EXPECT_THROW(m->forward(in), Error);
  }
}

// ---------------------------------------------------------------- causal LM and KV cache

TEST(CausalLM, CacheReorderAndPositions) {
  NoGradGuard no_grad;
  auto lm = AutoModelForCausalLM::from_config(tiny_config("gpt2", "GPT2Model"), {.seed = 5});
  EXPECT_EQ(lm->architecture(), "GPT2LMHeadModel");
  lm->eval();
  Tensor ids = Tensor::from_vector<int64_t>({3, 4, 5, 6, 7, 8, 9, 10}, {2, 4});
  KVCache cache = lm->make_cache();
  lm->forward_step(ids.narrow(1, 0, 3).contiguous(), cache);
  EXPECT_EQ(cache.length(), 3);
  EXPECT_EQ(cache.batch_size(), 2);
  // Swap the rows: continuing must give the swapped results of the unswapped run.
  KVCache swapped = cache;
  swapped.reorder({1, 0});
  auto next = lm->forward_step(ids.narrow(1, 3, 1).contiguous(), cache);
  Tensor ids_sw = Tensor::from_vector<int64_t>({10, 6}, {2, 1});
  auto next_sw = lm->forward_step(ids_sw, swapped);
  EXPECT_TENSOR_CLOSE(next_sw.logits.select(0, 0), next.logits.select(0, 1), 1e-6, 1e-6);
  EXPECT_TENSOR_CLOSE(next_sw.logits.select(0, 1), next.logits.select(0, 0), 1e-6, 1e-6);
  // The full forward agrees with the cached last step.
  ModelOutput full = lm->forward(ids);
  EXPECT_TENSOR_CLOSE(next.logits, full.logits.select(1, 3), 1e-5, 1e-5);
  // Dropping a row.
  KVCache one = cache;
  one.reorder({1});
  EXPECT_EQ(one.batch_size(), 1);
  // Too long for n_positions (24): a clear error.
  KVCache c2 = lm->make_cache();
  Tensor long_ids = Tensor::zeros({1, 25}, DType::I64);
  EXPECT_THROW(lm->forward_step(long_ids, c2), Error);
  // Left padding with explicit position ids (what generate() does): equals the unpadded run.
  Tensor padded = Tensor::from_vector<int64_t>({0, 0, 3, 4}, {1, 4});
  Tensor mask = Tensor::from_vector<int64_t>({0, 0, 1, 1}, {1, 4});
  Tensor pos = Tensor::from_vector<int64_t>({1, 1, 0, 1}, {1, 4});
  KVCache c3 = lm->make_cache();
  auto left = lm->forward_step(padded, c3, mask, pos);
  KVCache c4 = lm->make_cache();
  auto plain = lm->forward_step(ids.narrow(0, 0, 1).narrow(1, 0, 2).contiguous(), c4);
  EXPECT_TENSOR_CLOSE(left.logits, plain.logits, 1e-5, 1e-5);
  Tensor mask2 = Tensor::from_vector<int64_t>({0, 0, 1, 1, 1}, {1, 5});
  auto left2 = lm->forward_step(Tensor::from_vector<int64_t>({5}, {1, 1}), c3, mask2,
                                Tensor::from_vector<int64_t>({2}, {1, 1}));
  auto plain2 = lm->forward_step(Tensor::from_vector<int64_t>({5}, {1, 1}), c4);
  EXPECT_TENSOR_CLOSE(left2.logits, plain2.logits, 1e-5, 1e-5);
  EXPECT_GT(c4.nbytes(), 0u);
}

TEST(CausalLM, SequenceClassificationUsesTheLastRealToken) {
  NoGradGuard no_grad;
  auto m = AutoModel::from_config(tiny_config("gpt2", "GPT2ForSequenceClassification"));
  m->eval();
  Tensor ids = Tensor::from_vector<int64_t>({3, 4, 5, 0, 0, 6, 7, 8, 9, 10}, {2, 5});
  Tensor logits = m->forward(ids).logits;
  Tensor alone = m->forward(Tensor::from_vector<int64_t>({3, 4, 5}, {1, 3})).logits;
  EXPECT_TENSOR_CLOSE(logits.narrow(0, 0, 1), alone, 1e-5, 1e-5);
}

// ---------------------------------------------------------------- HF parity through weight mappings

struct FixtureCase {
  fs::path dir;
  json goldens;
};

std::optional<FixtureCase> fixture(const std::string& name) {
  auto root = test::model_fixtures_root();
  if (root.empty() || !fs::exists(root / name / "goldens.json")) return std::nullopt;
  return FixtureCase{root / name, test::read_json(root / name / "goldens.json")};
}

void write_config(const fs::path& dir, const json& j) { std::ofstream(dir / "config.json") << j.dump(2); }

void expect_goldens(const PreTrainedModel& m, const json& goldens, bool pass_token_types = true) {
  NoGradGuard no_grad;
  for (const json& c : goldens["forward"]) {
    ModelInputs in = test::case_inputs(c);
    if (!pass_token_types) in.token_type_ids = Tensor();
    ModelOutput out = m.forward(in);
    for (auto& e : test::compare_forward_case(m, goldens, c, out)) ADD_FAILURE() << e;
  }
}

// ALBERT with one layer per group, embedding_size = hidden_size and an identity
// embedding_hidden_mapping_in computes exactly BertModel.
TEST(FamilyParity, AlbertEqualsBertWithIdentityMapping) {
  auto f = fixture("bert-feature-extraction");
  if (!f) GTEST_SKIP() << "bert-feature-extraction fixture not found";
  json bert = test::read_json(f->dir / "config.json");
  const int64_t H = bert["hidden_size"], L = bert["num_hidden_layers"];
  json cfg = {{"model_type", "albert"}, {"architectures", {"AlbertModel"}}, {"vocab_size", bert["vocab_size"]},
              {"embedding_size", H}, {"hidden_size", H}, {"num_hidden_layers", L}, {"num_hidden_groups", L},
              {"inner_group_num", 1}, {"num_attention_heads", bert["num_attention_heads"]},
              {"intermediate_size", bert["intermediate_size"]}, {"hidden_act", "gelu"},
              {"max_position_embeddings", bert["max_position_embeddings"]}, {"type_vocab_size", bert["type_vocab_size"]},
              {"layer_norm_eps", bert["layer_norm_eps"]}, {"pad_token_id", bert["pad_token_id"]}};
  TempDir dir;
  write_config(dir.path, cfg);
  Tensor eye = Tensor::zeros({H, H});
  for (int64_t i = 0; i < H; ++i) eye.select(0, i).select(0, i).fill_(1.0);
  rewrite_checkpoint(
      f->dir, dir.path,
      [](const std::string& n) -> std::string {
        if (n.rfind("embeddings.", 0) == 0) return n;
        if (n.rfind("pooler.dense.", 0) == 0) return "pooler." + n.substr(13);
        const std::string p = "encoder.layer.";
        size_t dot = n.find('.', p.size());
        std::string i = n.substr(p.size(), dot - p.size()), rest = n.substr(dot + 1);
        std::string base = "encoder.albert_layer_groups." + i + ".albert_layers.0.";
        static const std::vector<std::pair<std::string, std::string>> map = {
            {"attention.self.", "attention."}, {"attention.output.dense.", "attention.dense."},
            {"attention.output.LayerNorm.", "attention.LayerNorm."}, {"intermediate.dense.", "ffn."},
            {"output.dense.", "ffn_output."}, {"output.LayerNorm.", "full_layer_layer_norm."}};
        for (auto& [from, to] : map)
          if (rest.rfind(from, 0) == 0) return base + to + rest.substr(from.size());
        return "unmapped." + n;
      },
      {{"encoder.embedding_hidden_mapping_in.weight", eye},
       {"encoder.embedding_hidden_mapping_in.bias", Tensor::zeros({H})}});
  auto m = AutoModel::from_pretrained(dir.path.string());
  EXPECT_EQ(m->architecture(), "AlbertModel");
  expect_goldens(*m, f->goldens);
}

// ELECTRA with embedding_size = hidden_size is BERT without a pooler; its generator head with
// gelu is BERT's MLM head.
TEST(FamilyParity, ElectraEqualsBert) {
  auto f = fixture("bert-masked-lm");
  if (!f) GTEST_SKIP() << "bert-masked-lm fixture not found";
  json cfg = test::read_json(f->dir / "config.json");
  ASSERT_EQ(cfg["hidden_act"], "gelu");
  cfg["model_type"] = "electra";
  cfg["architectures"] = {"ElectraForMaskedLM"};
  cfg["embedding_size"] = cfg["hidden_size"];
  TempDir dir;
  write_config(dir.path, cfg);
  rewrite_checkpoint(f->dir, dir.path, [](const std::string& n) -> std::string {
    if (n.rfind("bert.", 0) == 0) return "electra." + n.substr(5);
    if (n.rfind("cls.predictions.transform.", 0) == 0) return "generator_predictions." + n.substr(26);
    if (n == "cls.predictions.bias") return "generator_lm_head.bias";
    return "unmapped." + n;
  });
  auto m = AutoModel::from_pretrained(dir.path.string());
  EXPECT_EQ(m->architecture(), "ElectraForMaskedLM");
  expect_goldens(*m, f->goldens);
}

// XLM-RoBERTa and CamemBERT are RoBERTa under other names.
TEST(FamilyParity, XlmRobertaAndCamembertEqualRoberta) {
  for (auto [fixture_name, type, cls] :
       {std::tuple{"roberta-masked-lm", "xlm-roberta", "XLMRobertaForMaskedLM"},
        std::tuple{"roberta-sequence-classification-multilabel", "camembert", "CamembertForSequenceClassification"}}) {
    auto f = fixture(fixture_name);
    if (!f) GTEST_SKIP() << fixture_name << " fixture not found";
    SCOPED_TRACE(cls);
    json cfg = test::read_json(f->dir / "config.json");
    cfg["model_type"] = type;
    cfg["architectures"] = {cls};
    TempDir dir;
    write_config(dir.path, cfg);
    fs::create_symlink(fs::absolute(f->dir / "model.safetensors"), dir.path / "model.safetensors");
    auto m = AutoModel::from_pretrained(dir.path.string());
    EXPECT_EQ(m->architecture(), cls);
    expect_goldens(*m, f->goldens, false);
  }
}

}  // namespace
