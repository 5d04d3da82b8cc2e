// Parity runners for the module families: mha, encoder_layer, decoder_layer, encoder, transformer,
// posenc.
#include <cmath>
#include <functional>

#include "parity_common.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/nn/multihead_attention.h"
#include "xfmr/nn/positional_encoding.h"
#include "xfmr/nn/transformer.h"

namespace xfmr::parity {
namespace {

const std::set<std::string> kMaskKinds = {"causal_float", "float_additive", "bool", "key_padding_bool",
                                          "key_padding_float"};

int64_t opt_dim(const json& v) { return v.is_null() ? -1 : v.get<int64_t>(); }

std::shared_ptr<nn::MultiheadAttention> make_mha(const json& args, const std::string& where) {
  require_known_keys(args, {"embed_dim", "num_heads", "dropout", "bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim",
                            "batch_first"},
                     where);
  return std::make_shared<nn::MultiheadAttention>(
      at(args, "embed_dim", where).get<int64_t>(), at(args, "num_heads", where).get<int64_t>(),
      args.value("dropout", 0.0f), args.value("bias", true), args.value("add_bias_kv", false),
      args.value("add_zero_attn", false), opt_dim(args.value("kdim", json())), opt_dim(args.value("vdim", json())),
      args.value("batch_first", false));
}

const std::set<std::string> kLayerArgs = {"d_model",        "nhead",       "dim_feedforward", "dropout", "activation",
                                          "layer_norm_eps", "batch_first", "norm_first",      "bias"};

std::shared_ptr<nn::TransformerEncoderLayer> make_enc_layer(const json& a, const std::string& where) {
  require_known_keys(a, kLayerArgs, where);
  return std::make_shared<nn::TransformerEncoderLayer>(at(a, "d_model", where).get<int64_t>(), at(a, "nhead", where).get<int64_t>(),
                                     a.value("dim_feedforward", 2048), a.value("dropout", 0.1f),
                                     a.value("activation", std::string("relu")), a.value("layer_norm_eps", 1e-5f),
                                     a.value("batch_first", false), a.value("norm_first", false), a.value("bias", true));
}

std::shared_ptr<nn::TransformerDecoderLayer> make_dec_layer(const json& a, const std::string& where) {
  require_known_keys(a, kLayerArgs, where);
  return std::make_shared<nn::TransformerDecoderLayer>(
      at(a, "d_model", where).get<int64_t>(), at(a, "nhead", where).get<int64_t>(), a.value("dim_feedforward", 2048),
      a.value("dropout", 0.1f), a.value("activation", std::string("relu")), a.value("layer_norm_eps", 1e-5f),
      a.value("batch_first", false), a.value("norm_first", false), a.value("bias", true));
}

std::shared_ptr<nn::LayerNorm> make_norm(const json& n, const std::string& where) {
  if (n.is_null()) return nullptr;
  XFMR_CHECK(at(n, "type", where).get<std::string>() == "torch.nn.LayerNorm", where, ": unsupported norm ", n.dump());
  auto shape = at(n, "normalized_shape", where).get<std::vector<int64_t>>();
  XFMR_CHECK(shape.size() == 1, where, ": only a 1-D normalized_shape is supported, got ", n.dump());
  XFMR_CHECK(n.value("elementwise_affine", true), where, ": a norm without affine parameters is not supported");
  return std::make_shared<nn::LayerNorm>(shape[0], n.value("eps", 1e-5f), true, n.value("bias", true));
}

// Loads the case's params (state_dict name -> tensor name) strictly: every module parameter must be
// given and every given one must exist.
void load_params(const test::NnCase& c, nn::Module& m) {
  std::map<std::string, Tensor> dict;
  for (const auto& [name, tname] : at(c.spec, "params", c.name).items()) dict[name] = c.get(tname.get<std::string>());
  m.load_state_dict(dict);  // strict
}

void check_masks(const test::NnCase& c) {
  if (!c.spec.contains("masks")) return;
  for (const auto& [name, m] : c.spec["masks"].items()) {
    std::string kind = at(m, "kind", c.name + ".masks." + name).get<std::string>();
    XFMR_CHECK(kMaskKinds.count(kind), c.name, ": mask '", name, "' has unknown kind '", kind, "'");
  }
}

// Masks of kind causal_float (by call argument name).
std::set<std::string> causal_args(const test::NnCase& c) {
  std::set<std::string> out;
  if (!c.spec.contains("masks")) return out;
  for (const auto& [name, m] : c.spec["masks"].items())
    if (m.value("kind", "") == "causal_float") out.insert(name);
  return out;
}

void set_mode(const test::NnCase& c, nn::Module& m) {
  std::string mode = at(c.spec, "mode", c.name).get<std::string>();
  XFMR_CHECK(mode == "eval" || mode == "train", c.name, ": unknown mode '", mode, "'");
  m.train(mode == "train");
}

// Distinct input tensors by name (a tensor used as query, key and value is one handle), made
// differentiable when the case has a backward pass.
std::map<std::string, Tensor> load_inputs(const test::NnCase& c, bool requires_grad) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, tname] : at(c.spec, "inputs", c.name).items()) {
    Tensor t = c.get(tname.get<std::string>()).clone();
    if (requires_grad && is_floating(t.dtype())) t.set_requires_grad(true);
    out[tname.get<std::string>()] = t;
  }
  return out;
}

// Checks dL/dparam and dL/dinput for L = sum_k sum(out_k * upstream_k).
void check_backward(const test::NnCase& c, Checker& k, nn::Module& m, const std::map<std::string, Tensor>& outputs,
                    const std::map<std::string, Tensor>& inputs_by_tensor) {
  const json& bw = at(c.spec, "backward", c.name);
  std::vector<Tensor> outs, ups;
  for (const auto& [oname, uname] : at(bw, "upstream", c.name + ".backward").items()) {
    auto it = outputs.find(oname);
    XFMR_CHECK(it != outputs.end(), c.name, ": backward upstream for unknown output '", oname, "'");
    outs.push_back(it->second);
    ups.push_back(c.get(uname.get<std::string>()));
  }
  std::vector<Tensor> wrt;
  std::vector<std::string> names;
  const json param_grads = bw.value("param_grads", json::object());
  const json input_grads = bw.value("input_grads", json::object());
  for (const auto& [pname, gname] : param_grads.items()) {
    Tensor* p = m.find_tensor(pname);
    XFMR_CHECK(p != nullptr, c.name, ": no parameter '", pname, "' in the module");
    wrt.push_back(*p);
    names.push_back(gname.get<std::string>());
  }
  const json& inputs = at(c.spec, "inputs", c.name);
  for (const auto& [iname, gname] : input_grads.items()) {
    std::string tname = at(inputs, iname, c.name + ".inputs").get<std::string>();
    wrt.push_back(inputs_by_tensor.at(tname));
    names.push_back(gname.get<std::string>());
  }
  std::vector<Tensor> grads = xfmr::grad(outs, wrt, ups);
  for (size_t i = 0; i < grads.size(); ++i) k.expect(names[i], grads[i]);
}

}  // namespace

// ------------------------------------------------------------------ mha

void run_mha(const test::NnCase& c, Checker& k) {
  const json& mod = at(c.spec, "module", c.name);
  XFMR_CHECK(at(mod, "type", c.name).get<std::string>() == "torch.nn.MultiheadAttention", c.name,
             ": unexpected module type ", mod["type"].dump());
  auto mha = make_mha(at(mod, "args", c.name), c.name + ".module.args");
  load_params(c, *mha);
  set_mode(c, *mha);
  check_masks(c);
  const bool with_grad = c.spec.value("grad_enabled_during_forward", true) && c.spec.contains("backward");
  auto inputs = load_inputs(c, with_grad);
  const json& call = at(c.spec, "call", c.name);
  require_known_keys(call, {"query", "key", "value", "self_attention_same_tensor", "key_padding_mask", "attn_mask",
                            "need_weights", "outputs", "average_attn_weights", "note"},
                     c.name + ".call");
  auto input = [&](const char* arg) { return inputs.at(at(call, arg, c.name + ".call").get<std::string>()); };
  Tensor q = input("query"), key = input("key"), v = input("value");
  if (call.value("self_attention_same_tensor", false))
    XFMR_CHECK(q.is_same(key) && key.is_same(v), c.name, ": self-attention inputs are not one tensor");
  Tensor kpm = tensor_ref(c, call.value("key_padding_mask", json()));
  Tensor am = tensor_ref(c, call.value("attn_mask", json()));
  const bool need_weights = call.value("need_weights", true);
  const json& outputs = at(c.spec, "outputs", c.name);

  std::map<std::string, Tensor> outs;
  {
    std::unique_ptr<NoGradGuard> ng;
    if (!with_grad) ng = std::make_unique<NoGradGuard>();
    const bool average = call.value("average_attn_weights", true);
    auto r = mha->forward(q, key, v, kpm, need_weights, am, average);
    outs["attn_output"] = r.output;
    if (need_weights) outs["attn_weights"] = r.weights;
    if (outputs.contains("attn_weights_per_head")) {
      XFMR_CHECK(need_weights, c.name, ": per-head weights requested with need_weights=false");
      outs["attn_weights_per_head"] = mha->forward(q, key, v, kpm, true, am, false).weights;
    }
  }
  for (const auto& [oname, tname] : outputs.items()) {
    auto it = outs.find(oname);
    XFMR_CHECK(it != outs.end(), c.name, ": unknown MHA output '", oname, "'");
    k.expect(tname.get<std::string>(), it->second);
  }
  // is_causal=true without the mask must equal passing the causal float mask (same tolerance).
  if (causal_args(c).count("attn_mask")) {
    NoGradGuard ng;
    auto r = mha->forward(q, key, v, kpm, need_weights, Tensor(), call.value("average_attn_weights", true), true);
    k.expect(outputs.at("attn_output").get<std::string>(), r.output);
    if (need_weights && outputs.contains("attn_weights")) k.expect(outputs.at("attn_weights").get<std::string>(), r.weights);
  }
  if (with_grad) check_backward(c, k, *mha, outs, inputs);
}

// ------------------------------------------------------------------ layers, stacks, nn.Transformer

void run_module(const test::NnCase& c, Checker& k) {
  const json& mod = at(c.spec, "module", c.name);
  const std::string type = at(mod, "type", c.name).get<std::string>();
  const json& args = at(mod, "args", c.name);
  const std::string where = c.name + ".module.args";
  const json& call = at(c.spec, "call", c.name);
  check_masks(c);
  const bool with_grad = c.spec.value("grad_enabled_during_forward", true) && c.spec.contains("backward");
  auto inputs = load_inputs(c, with_grad);
  auto arg = [&](const char* name) -> Tensor {
    if (!call.contains(name) || call[name].is_null()) return Tensor();
    std::string t = call[name].get<std::string>();
    auto it = inputs.find(t);
    return it != inputs.end() ? it->second : c.get(t);
  };
  std::set<std::string> causal = causal_args(c);
  // forward(masked): runs the module; with `use_causal_flags` the causal float masks are replaced by
  // is_causal=true.
  std::shared_ptr<nn::Module> module;
  std::function<Tensor(bool)> forward;
  auto mask_or_flag = [&](const char* name, bool use_flags, bool* flag) {
    *flag = use_flags && causal.count(name);
    return *flag ? Tensor() : arg(name);
  };
  if (type == "torch.nn.TransformerEncoderLayer") {
    require_known_keys(call, {"src", "src_mask", "src_key_padding_mask"}, c.name + ".call");
    auto m = make_enc_layer(args, where);
    module = m;
    forward = [&, m](bool flags) {
      bool f1;
      Tensor sm = mask_or_flag("src_mask", flags, &f1);
      return m->forward(arg("src"), sm, arg("src_key_padding_mask"), f1);
    };
  } else if (type == "torch.nn.TransformerDecoderLayer") {
    require_known_keys(call, {"tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask",
                              "memory_key_padding_mask"},
                       c.name + ".call");
    auto m = make_dec_layer(args, where);
    module = m;
    forward = [&, m](bool flags) {
      bool f1, f2;
      Tensor tm = mask_or_flag("tgt_mask", flags, &f1), mm = mask_or_flag("memory_mask", flags, &f2);
      return m->forward(arg("tgt"), arg("memory"), tm, mm, arg("tgt_key_padding_mask"), arg("memory_key_padding_mask"),
                        f1, f2);
    };
  } else if (type == "torch.nn.TransformerEncoder") {
    require_known_keys(args, {"encoder_layer", "num_layers", "norm", "enable_nested_tensor", "mask_check"}, where);
    require_known_keys(call, {"src", "mask", "src_key_padding_mask"}, c.name + ".call");
    const json& el = at(args, "encoder_layer", where);
    XFMR_CHECK(at(el, "type", where).get<std::string>() == "torch.nn.TransformerEncoderLayer", where,
               ": unsupported encoder_layer ", el["type"].dump());
    auto layer = make_enc_layer(at(el, "args", where), where + ".encoder_layer.args");
    auto m = std::make_shared<nn::TransformerEncoder>(*layer, at(args, "num_layers", where).get<int64_t>(),
                                                      make_norm(args.value("norm", json()), where + ".norm"));
    module = m;
    forward = [&, m](bool flags) {
      bool f1;
      Tensor sm = mask_or_flag("mask", flags, &f1);
      return m->forward(arg("src"), sm, arg("src_key_padding_mask"), f1);
    };
  } else if (type == "torch.nn.Transformer") {
    require_known_keys(args, {"d_model", "nhead", "num_encoder_layers", "num_decoder_layers", "dim_feedforward",
                              "dropout", "activation", "custom_encoder", "custom_decoder", "layer_norm_eps",
                              "batch_first", "norm_first", "bias"},
                       where);
    XFMR_CHECK(args.value("custom_encoder", json()).is_null() && args.value("custom_decoder", json()).is_null(), where,
               ": custom encoders/decoders are not described by the fixture format");
    require_known_keys(call, {"src", "tgt", "src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask",
                              "tgt_key_padding_mask", "memory_key_padding_mask"},
                       c.name + ".call");
    auto m = std::make_shared<nn::Transformer>(
        args.value("d_model", 512), args.value("nhead", 8), args.value("num_encoder_layers", 6),
        args.value("num_decoder_layers", 6), args.value("dim_feedforward", 2048), args.value("dropout", 0.1f),
        args.value("activation", std::string("relu")), nullptr, nullptr, args.value("layer_norm_eps", 1e-5f),
        args.value("batch_first", false), args.value("norm_first", false), args.value("bias", true));
    module = m;
    forward = [&, m](bool flags) {
      bool f1, f2, f3;
      Tensor sm = mask_or_flag("src_mask", flags, &f1), tm = mask_or_flag("tgt_mask", flags, &f2),
             mm = mask_or_flag("memory_mask", flags, &f3);
      return m->forward(arg("src"), arg("tgt"), sm, tm, mm, arg("src_key_padding_mask"), arg("tgt_key_padding_mask"),
                        arg("memory_key_padding_mask"), f1, f2, f3);
    };
  } else {
    FAIL() << c.name << ": unknown module type '" << type << "'";
  }
  load_params(c, *module);
  set_mode(c, *module);
  const json& outputs = at(c.spec, "outputs", c.name);
  XFMR_CHECK(outputs.size() == 1 && outputs.contains("output"), c.name, ": expected a single 'output', got ",
             outputs.dump());
  std::map<std::string, Tensor> outs;
  {
    std::unique_ptr<NoGradGuard> ng;
    if (!with_grad) ng = std::make_unique<NoGradGuard>();
    outs["output"] = forward(false);
  }
  const std::string out_name = outputs["output"].get<std::string>();
  k.expect(out_name, outs["output"]);
  if (!causal.empty()) {
    NoGradGuard ng;
    k.expect(out_name, forward(true));
  }
  if (with_grad) check_backward(c, k, *module, outs, inputs);
}

// ------------------------------------------------------------------ positional encoding

void run_posenc(const test::NnCase& c, Checker& k) {
  const json& mod = at(c.spec, "module", c.name);
  const json& args = at(mod, "args", c.name);
  require_known_keys(args, {"d_model", "dropout", "max_len"}, c.name + ".module.args");
  nn::PositionalEncoding pe(at(args, "d_model", c.name).get<int64_t>(), args.value("dropout", 0.1f),
                            args.value("max_len", 5000));
  std::string mode = c.spec.value("mode", "eval");
  XFMR_CHECK(mode == "eval", c.name, ": only eval mode is deterministic, got mode '", mode, "'");
  pe.eval();
  const json& outputs = at(c.spec, "outputs", c.name);
  const json& inputs = at(c.spec, "inputs", c.name);
  for (const auto& [oname, tname] : outputs.items()) {
    std::string t = tname.get<std::string>();
    if (oname == "pe") {
      k.expect(t, pe.pe);
      // Tighter bounds per position range (precision.by_position_range).
      if (c.spec.contains("precision") && c.spec["precision"].contains("by_position_range")) {
        Tensor e = raw(c, t);
        for (const auto& r : c.spec["precision"]["by_position_range"]) {
          auto pos = at(r, "positions", c.name).get<std::vector<int64_t>>();
          int64_t b = pos.at(0), en = std::min<int64_t>(pos.at(1), pe.max_len);
          if (en <= b) continue;
          double atol = at(r, "atol", c.name).get<double>();
          k.expect_slice(t, pe.pe.narrow(0, b, en - b), e.narrow(0, b, en - b), atol, 0.0);
        }
      }
    } else if (oname == "div_term") {
      k.expect(t, nn::PositionalEncoding::div_term(pe.d_model));
    } else if (oname == "y") {
      Tensor x = c.get(at(inputs, "x", c.name).get<std::string>());
      k.expect(t, pe.forward(x));
    } else {
      FAIL() << c.name << ": unknown posenc output '" << oname << "'";
    }
  }
}

}  // namespace xfmr::parity
