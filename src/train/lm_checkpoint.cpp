#include "lm_checkpoint.h"

#include <fstream>
#include <sstream>

#include "xfmr/core/error.h"
#include "xfmr/io/safetensors.h"

namespace xfmr::train {

namespace detail {

nlohmann::ordered_json lm_config_json(const models::TransformerLMConfig& c, const LMTrainOptions& o) {
  nlohmann::ordered_json j;
  j["architecture"] = "TransformerModel";
  j["description"] = "PyTorch tutorial word-level Transformer LM (xfmr train-lm)";
  j["ntoken"] = c.ntoken;
  j["d_model"] = c.d_model;
  j["nhead"] = c.nhead;
  j["d_hid"] = c.d_hid;
  j["nlayers"] = c.nlayers;
  j["dropout"] = c.dropout;
  j["max_len"] = c.max_len;
  j["tokenization"] = data::lm_tokenization_name(o.tokenization);
  j["vocab_file"] = "vocab.txt";
  j["train"] = {{"batch_size", o.batch_size}, {"eval_batch_size", o.eval_batch_size}, {"bptt", o.bptt},
                {"lr", o.lr},
                {"gamma", o.gamma},
                {"clip", o.clip},
                {"seed", o.seed}};
  return j;
}

void save_lm_model(const std::filesystem::path& dir, const nlohmann::ordered_json& config, const data::Vocab& vocab,
                   const nn::NamedTensors& state_dict) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  XFMR_CHECK(!ec, "train-lm: cannot create the checkpoint folder ", dir.string(), ": ", ec.message());
  io::save_safetensors(dir / "model.safetensors", state_dict, {{"format", "pt"}});
  vocab.save(dir / "vocab.txt");
  const std::filesystem::path tmp = dir / "config.json.tmp";
  {
    std::ofstream f(tmp);
    XFMR_CHECK(f, "train-lm: cannot write ", tmp.string());
    f << config.dump(2) << "\n";
    XFMR_CHECK(f.good(), "train-lm: write failed for ", tmp.string());
  }
  std::filesystem::rename(tmp, dir / "config.json");
}

}  // namespace detail

namespace {

template <typename T>
T config_get(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
  XFMR_CHECK(j.contains(key), file.string(), ": missing \"", key, "\"");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    ::xfmr::detail::fail(file.string(), ": \"", key, "\" has the wrong type: ", e.what());
  }
}

}  // namespace

LMCheckpoint load_lm_checkpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  XFMR_CHECK(std::filesystem::is_directory(dir, ec), "LM checkpoint: ", dir.string(), " is not a directory");
  const auto config_path = dir / "config.json";
  XFMR_CHECK(std::filesystem::exists(config_path, ec), "LM checkpoint: no config.json in ", dir.string());
  nlohmann::json j;
  {
    std::ifstream f(config_path);
    try {
      j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      ::xfmr::detail::fail(config_path.string(), ": invalid JSON: ", e.what());
    }
  }
  XFMR_CHECK(j.is_object(), config_path.string(), ": expected a JSON object");
  LMCheckpoint c;
  c.dir = dir;
  c.config.ntoken = config_get<int64_t>(j, "ntoken", config_path);
  c.config.d_model = config_get<int64_t>(j, "d_model", config_path);
  c.config.nhead = config_get<int64_t>(j, "nhead", config_path);
  c.config.d_hid = config_get<int64_t>(j, "d_hid", config_path);
  c.config.nlayers = config_get<int64_t>(j, "nlayers", config_path);
  c.config.dropout = config_get<float>(j, "dropout", config_path);
  if (j.contains("max_len")) c.config.max_len = config_get<int64_t>(j, "max_len", config_path);
  XFMR_CHECK(c.config.d_model > 0 && c.config.nhead > 0 && c.config.d_model % c.config.nhead == 0,
             config_path.string(), ": d_model ", c.config.d_model, " must be a positive multiple of nhead ",
             c.config.nhead);
  c.tokenization = data::parse_lm_tokenization(config_get<std::string>(j, "tokenization", config_path));
  if (j.contains("train") && j["train"].is_object()) {
    const auto& t = j["train"];
    if (t.contains("bptt")) c.bptt = config_get<int64_t>(t, "bptt", config_path);
    if (t.contains("eval_batch_size")) c.eval_batch_size = config_get<int64_t>(t, "eval_batch_size", config_path);
  }
  const std::string vocab_file = j.contains("vocab_file") ? config_get<std::string>(j, "vocab_file", config_path)
                                                          : std::string("vocab.txt");
  c.vocab = data::Vocab::load(dir / vocab_file, "<unk>");
  XFMR_CHECK(c.vocab.size() == c.config.ntoken, "LM checkpoint ", dir.string(), ": ", vocab_file, " has ",
             c.vocab.size(), " tokens but config.json says ntoken = ", c.config.ntoken);

  const auto weights_path = dir / "model.safetensors";
  auto file = io::SafetensorsFile::open(weights_path);
  // Shapes first, so a mismatch names the tensor and the file rather than failing inside the model.
  auto expect_shape = [&](const std::string& name, const Shape& shape) {
    XFMR_CHECK(file.contains(name), weights_path.string(), ": missing tensor ", name);
    XFMR_CHECK(file.info(name).shape == shape, weights_path.string(), ": ", name, " has shape ",
               file.info(name).shape.str(), " but config.json + ", vocab_file, " imply ", shape.str(),
               " (vocabulary/config mismatch with the weights)");
  };
  expect_shape("encoder.weight", Shape{c.config.ntoken, c.config.d_model});
  expect_shape("decoder.weight", Shape{c.config.ntoken, c.config.d_model});
  expect_shape("decoder.bias", Shape{c.config.ntoken});
  expect_shape("transformer_encoder.layers.0.linear1.weight", Shape{c.config.d_hid, c.config.d_model});
  std::map<std::string, Tensor> sd;
  for (const auto& info : file.tensors()) sd[info.name] = file.get(info.name, DType::F32);
  c.generator = std::make_unique<Generator>(0);
  c.model = std::make_unique<models::TransformerLM>(c.config, *c.generator);
  try {
    c.model->load_state_dict(sd);
  } catch (const Error& e) {
    ::xfmr::detail::fail(weights_path.string(), ": does not match config.json (", e.what(), ")");
  }
  c.model->eval();
  return c;
}

}  // namespace xfmr::train
