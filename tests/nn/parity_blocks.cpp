// Parity runner for the "blocks" family: single differentiable ops (forward + backward through the
// autograd layer) against torch.nn.functional.
#include "parity_common.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/nn/functional.h"

namespace xfmr::parity {

void run_blocks(const test::NnCase& c, Checker& k) {
  const json& call = at(c.spec, "call", c.name);
  const std::string fn = at(call, "function", c.name).get<std::string>();
  const json args = call.value("args", json::object());
  const std::string where = c.name + ".call.args";
  std::map<std::string, Tensor> in;  // by input name ("x", "weight", ...)
  for (const auto& [name, tname] : at(c.spec, "inputs", c.name).items()) {
    Tensor t = c.get(tname.get<std::string>()).clone();
    if (is_floating(t.dtype())) t.set_requires_grad(true);
    in[name] = t;
  }
  auto a = [&](const char* name) -> Tensor {
    const json& v = at(args, name, where);
    if (v.is_null()) return Tensor();
    auto it = in.find(v.get<std::string>());
    XFMR_CHECK(it != in.end(), where, ": argument ", name, " names unknown input ", v.dump());
    return it->second;
  };
  auto in_at = [&](const char* name) -> Tensor {
    auto it = in.find(name);
    XFMR_CHECK(it != in.end(), c.name, ": missing input '", name, "'");
    return it->second;
  };
  std::map<std::string, Tensor> out;
  if (fn == "torch.nn.functional.linear") {
    require_known_keys(args, {"input", "weight", "bias"}, where);
    out["y"] = linear(a("input"), a("weight"), a("bias"));
  } else if (fn == "torch.nn.functional.embedding") {
    require_known_keys(args, {"input", "weight", "padding_idx", "max_norm", "scale_grad_by_freq", "sparse"}, where);
    XFMR_CHECK(args.value("max_norm", json()).is_null() && !args.value("scale_grad_by_freq", false) &&
                   !args.value("sparse", false),
               where, ": max_norm / scale_grad_by_freq / sparse are not supported");
    json pad = args.value("padding_idx", json());
    Tensor w = a("weight");
    int64_t p = pad.is_null() ? -1 : pad.get<int64_t>();
    if (p < -1) p += w.size(0);
    out["y"] = embedding(w, a("input"), p);
  } else if (fn == "torch.nn.functional.layer_norm") {
    require_known_keys(args, {"input", "normalized_shape", "weight", "bias", "eps"}, where);
    Tensor x = a("input");
    auto ns = at(args, "normalized_shape", where).get<std::vector<int64_t>>();
    XFMR_CHECK(ns.size() == 1 && ns[0] == x.size(-1), where, ": only normalisation over the last dimension is supported");
    out["y"] = layer_norm(x, a("weight"), a("bias"), at(args, "eps", where).get<float>());
  } else if (fn == "torch.nn.functional.softmax" || fn == "torch.nn.functional.log_softmax") {
    require_known_keys(args, {"input", "dim"}, where);
    int64_t dim = at(args, "dim", where).get<int64_t>();
    out["y"] = fn == "torch.nn.functional.softmax" ? softmax(a("input"), dim) : log_softmax(a("input"), dim);
  } else if (fn == "torch.nn.functional.gelu") {
    require_known_keys(args, {"input", "approximate"}, where);
    std::string approx = args.value("approximate", std::string("none"));
    XFMR_CHECK(approx == "none" || approx == "tanh", where, ": unknown approximate '", approx, "'");
    out["y"] = gelu(a("input"), approx == "tanh");
  } else if (fn == "torch.nn.functional.relu" || fn == "torch.nn.functional.silu" || fn == "torch.tanh" ||
             fn == "torch.sigmoid") {
    require_known_keys(args, {"input"}, where);
    Tensor x = a("input");
    out["y"] = fn == "torch.nn.functional.relu" ? relu(x) : fn == "torch.nn.functional.silu" ? silu(x)
               : fn == "torch.tanh"                 ? tanh(x)
                                                    : sigmoid(x);
  } else if (fn == "torch.nn.functional.cross_entropy" || fn == "torch.nn.functional.nll_loss") {
    require_known_keys(args, {"input", "target", "weight", "ignore_index", "reduction", "label_smoothing"}, where);
    Reduction r = reduction_from_name(args.value("reduction", std::string("mean")).c_str());
    int64_t ignore = args.value("ignore_index", int64_t{-100});
    Tensor w = args.value("weight", json()).is_null() ? Tensor() : a("weight").detach();
    if (fn == "torch.nn.functional.cross_entropy") {
      nn::functional::CrossEntropyOptions o;
      o.weight = w;
      o.ignore_index = ignore;
      o.reduction = r;
      o.label_smoothing = args.value("label_smoothing", 0.0f);
      out["loss"] = nn::functional::cross_entropy(a("input"), a("target"), o);
    } else {
      XFMR_CHECK(args.value("label_smoothing", 0.0) == 0.0, where, ": nll_loss has no label_smoothing");
      out["loss"] = nn::functional::nll_loss(a("input"), a("target"), {w, ignore, r});
    }
  } else if (fn == "torch.nn.functional.mse_loss") {
    require_known_keys(args, {"input", "target", "reduction"}, where);
    out["loss"] = nn::functional::mse_loss(a("input"), a("target"),
                                           reduction_from_name(args.value("reduction", std::string("mean")).c_str()));
  } else if (fn.find("q @ k.transpose(-2,-1)") != std::string::npos) {
    // Scaled dot-product attention written as its formula (torch 1.13 has no public F.sdpa).
    XFMR_CHECK(call.value("dropout_p", 0.0) == 0.0, c.name, ": attention dropout cannot be compared");
    XFMR_CHECK(fn.find("/ sqrt(D)") != std::string::npos, c.name, ": unknown attention scaling in '", fn, "'");
    Tensor mask = in.count("mask") ? in["mask"].detach() : Tensor();
    XFMR_CHECK(mask.defined() == (fn.find("+ mask") != std::string::npos), c.name,
               ": the mask input does not match the formula '", fn, "'");
    Tensor probs;
    out["y"] = scaled_dot_product_attention(in_at("q"), in_at("k"), in_at("v"), mask, call.value("is_causal", false),
                                            -1.0f, 0.0f, false, &probs);
    out["attn_weights"] = probs;
  } else {
    FAIL() << c.name << ": unknown block function '" << fn << "'";
  }
  const json& outputs = at(c.spec, "outputs", c.name);
  for (const auto& [oname, tname] : outputs.items()) {
    auto it = out.find(oname);
    XFMR_CHECK(it != out.end(), c.name, ": unknown output '", oname, "' of ", fn);
    k.expect(tname.get<std::string>(), it->second);
  }
  if (!c.spec.contains("backward")) return;
  const json& bw = c.spec["backward"];
  std::vector<Tensor> outs, ups, wrt;
  std::vector<std::string> names;
  for (const auto& [oname, uname] : at(bw, "upstream", c.name).items()) {
    outs.push_back(out.at(oname));
    ups.push_back(c.get(uname.get<std::string>()).reshape(out.at(oname).shape()));
  }
  for (const auto& [iname, gname] : at(bw, "input_grads", c.name).items()) {
    wrt.push_back(in_at(iname.c_str()));
    names.push_back(gname.get<std::string>());
  }
  std::vector<Tensor> g = xfmr::grad(outs, wrt, ups);
  for (size_t i = 0; i < g.size(); ++i) k.expect(names[i], g[i]);
}

}  // namespace xfmr::parity
