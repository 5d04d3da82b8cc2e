#include "fixture_runner.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "common/test_util.h"
#include "xfmr/autograd/autograd.h"

namespace xfmr::test {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path model_fixtures_root() { return fixture_dir("XFMR_MODEL_FIXTURES", "fixtures/models"); }

std::vector<fs::path> model_fixture_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  if (root.empty() || !fs::is_directory(root)) return out;
  for (auto& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "goldens.json")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
// Python's json writes Infinity / -Infinity / NaN; nlohmann does not read them. Outside strings,
// replace them by the largest double and null (they only occur in informative fields).
std::string python_json_to_strict(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) out += s[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (s.compare(i, 8, "Infinity") == 0) {
      out += "1.7976931348623157e308";
      i += 7;
    } else if (s.compare(i, 3, "NaN") == 0) {
      out += "null";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

json read_json(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  XFMR_CHECK(in.good(), "cannot read ", file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(python_json_to_strict(ss.str()));
  } catch (const json::exception& e) {
    xfmr::detail::fail(file.string(), ": invalid JSON: ", e.what());
  }
}

json load_goldens(const fs::path& dir) {
  json g = read_json(dir / "goldens.json");
  const std::string format = g.value("format", "");
  XFMR_CHECK(format == "xfmr-model-fixture/1", dir.string(), ": unknown goldens format '", format,
             "' (this runner reads xfmr-model-fixture/1)");
  const std::string cls = g.value("hf_class", "");
  XFMR_CHECK(models::find_architecture(cls) != nullptr, dir.string(), ": unknown hf_class '", cls,
             "' (not a supported architecture)");
  auto config = models::ModelConfig::from_file(dir / "config.json");
  auto archs = config.architectures();
  XFMR_CHECK(!archs.empty() && archs[0] == cls, dir.string(), ": hf_class ", cls,
             " differs from config.json architectures[0]");
  XFMR_CHECK(g.contains("forward") && g["forward"].is_array(), dir.string(), ": goldens.json has no forward cases");
  return g;
}

Tensor json_ids(const json& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), L = B ? static_cast<int64_t>(rows[0].size()) : 0;
  std::vector<int64_t> v;
  for (auto& r : rows) {
    XFMR_CHECK(static_cast<int64_t>(r.size()) == L, "ragged id rows in goldens");
    for (auto& x : r) v.push_back(x.get<int64_t>());
  }
  return Tensor::from_vector(v, {B, L});
}

Tensor json_tensor(const json& t) {
  std::vector<int64_t> shape = t.at("shape").get<std::vector<int64_t>>();
  std::vector<float> data = t.at("data").get<std::vector<float>>();
  return Tensor::from_vector(data, Shape(shape));
}

models::ModelInputs case_inputs(const json& c) {
  models::ModelInputs in;
  in.input_ids = json_ids(c.at("input_ids"));
  in.attention_mask = json_ids(c.at("attention_mask"));
  if (c.contains("token_type_ids")) in.token_type_ids = json_ids(c.at("token_type_ids"));
  return in;
}

namespace {

Tolerance tolerance(const json& g, const char* kind) {
  Tolerance t;
  if (g.contains("tolerances") && g["tolerances"].contains(kind)) {
    t.atol = g["tolerances"][kind].at("atol").get<double>();
    t.rtol = g["tolerances"][kind].at("rtol").get<double>();
  }
  return t;
}

bool close(double got, double exp, const Tolerance& tol) {
  return std::isfinite(got) && std::fabs(got - exp) <= tol.atol + tol.rtol * std::fabs(exp);
}

std::string where(const std::string& name, const std::string& out, int64_t b, int64_t t) {
  std::ostringstream os;
  os << name << ": " << out << " [batch " << b;
  if (t >= 0) os << ", position " << t;
  os << "]";
  return os.str();
}

// Compares a [B, L, ...] (positional) or [B, ...] output; only real positions when positional.
void compare_tensor(const std::string& cname, const std::string& oname, const Tensor& got, const json& exp_j,
                    const std::vector<int64_t>& mask, int64_t B, int64_t L, bool positional, const Tolerance& tol,
                    std::vector<std::string>& errors) {
  Tensor exp = json_tensor(exp_j);
  if (!got.defined()) {
    errors.push_back(cname + ": the model did not produce " + oname);
    return;
  }
  if (got.shape() != exp.shape()) {
    errors.push_back(cname + ": " + oname + " has shape " + got.shape().str() + ", expected " + exp.shape().str());
    return;
  }
  const std::vector<float> a = got.contiguous().to_float_vector(), e = exp.to_float_vector();
  const int64_t per_b = exp.numel() / B;
  const int64_t per_t = positional ? per_b / L : per_b;
  int64_t bad = 0;
  std::string first;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < (positional ? L : 1); ++t) {
      if (positional && mask[b * L + t] == 0) continue;
      const int64_t base = b * per_b + t * per_t;
      for (int64_t i = 0; i < per_t; ++i)
        if (!close(a[base + i], e[base + i], tol)) {
          if (bad++ == 0) {
            std::ostringstream os;
            os.precision(9);
            os << where(cname, oname, b, positional ? t : -1) << " element " << i << ": got " << a[base + i]
               << ", expected " << e[base + i];
            first = os.str();
          }
        }
    }
  if (bad) errors.push_back(first + " (" + std::to_string(bad) + " values outside atol " + std::to_string(tol.atol) +
                            " + rtol " + std::to_string(tol.rtol) + ")");
}

void compare_vocab_logits(const std::string& cname, const Tensor& got, const json& exp, const std::vector<int64_t>& mask,
                          int64_t B, int64_t L, const Tolerance& tol, std::vector<std::string>& errors) {
  std::vector<int64_t> shape = exp.at("shape").get<std::vector<int64_t>>();
  if (!got.defined() || got.shape() != Shape(shape)) {
    errors.push_back(cname + ": logits have shape " + (got.defined() ? got.shape().str() : std::string("<none>")) +
                     ", expected " + Shape(shape).str());
    return;
  }
  const int64_t V = shape[2];
  const std::vector<float> a = got.contiguous().to_float_vector();
  const json& topk = exp.at("topk");
  const int64_t k = topk.at("k").get<int64_t>();
  const Tensor lse_exp = json_tensor(exp.at("logsumexp"));
  const std::vector<float> lse_e = lse_exp.to_float_vector();
  int64_t checked = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      if (mask[b * L + t] == 0) continue;
      ++checked;
      const float* row = a.data() + (b * L + t) * V;
      // top-k (descending, lower index first on ties, like torch.topk)
      std::vector<int64_t> idx(static_cast<size_t>(V));
      for (int64_t i = 0; i < V; ++i) idx[i] = i;
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t x, int64_t y) {
        return row[x] > row[y] || (row[x] == row[y] && x < y);
      });
      const json& ei = topk.at("indices")[b][t];
      const json& ev = topk.at("values")[b][t];
      for (int64_t j = 0; j < k; ++j) {
        int64_t want = ei[j].get<int64_t>();
        double want_v = ev[j].get<double>();
        if (idx[j] != want)
          errors.push_back(where(cname, "logits top-k", b, t) + " rank " + std::to_string(j) + ": token " +
                           std::to_string(idx[j]) + ", expected " + std::to_string(want));
        if (!close(row[want], want_v, tol))
          errors.push_back(where(cname, "logits top-k value", b, t) + " token " + std::to_string(want) + ": got " +
                           std::to_string(row[want]) + ", expected " + std::to_string(want_v));
      }
      double m = row[0];
      for (int64_t i = 1; i < V; ++i) m = std::max<double>(m, row[i]);
      double s = 0;
      for (int64_t i = 0; i < V; ++i) s += std::exp(static_cast<double>(row[i]) - m);
      const double lse = m + std::log(s);
      if (!close(lse, lse_e[b * L + t], tol))
        errors.push_back(where(cname, "logsumexp", b, t) + ": got " + std::to_string(lse) + ", expected " +
                         std::to_string(lse_e[b * L + t]));
    }
  if (checked == 0) errors.push_back(cname + ": no real positions to check");
  const json rows = exp.value("rows", json::array());
  for (const json& r : rows) {
    const int64_t b = r.at("batch").get<int64_t>(), t = r.at("position").get<int64_t>();
    const std::vector<float> e = r.at("data").get<std::vector<float>>();
    if (static_cast<int64_t>(e.size()) != V) {
      errors.push_back(cname + ": full logits row of length " + std::to_string(e.size()));
      continue;
    }
    const float* row = a.data() + (b * L + t) * V;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < V; ++i)
      if (!close(row[i], e[i], tol)) {
        ++bad;
        if (first < 0) first = i;
      }
    if (bad)
      errors.push_back(where(cname, "full logits row", b, t) + ": " + std::to_string(bad) + " values differ, first at " +
                       std::to_string(first) + ": got " + std::to_string(row[first]) + ", expected " +
                       std::to_string(e[first]));
  }
}

bool positional_logits(models::Task t) {
  return t == models::Task::TokenClassification || t == models::Task::MaskedLM || t == models::Task::CausalLM ||
         t == models::Task::PreTraining;
}

}  // namespace

std::vector<std::string> compare_forward_case(const models::PreTrainedModel& model, const json& g, const json& c,
                                              const models::ModelOutput& out) {
  std::vector<std::string> errors;
  const std::string cname = g.value("name", std::string("?")) + "/" + c.value("name", std::string("?"));
  const Tensor ids = json_ids(c.at("input_ids"));
  const int64_t B = ids.size(0), L = ids.size(1);
  std::vector<int64_t> mask;
  for (auto& r : c.at("attention_mask"))
    for (auto& x : r) mask.push_back(x.get<int64_t>());
  const Tolerance th = tolerance(g, "hidden_states"), tl = tolerance(g, "logits");
  for (auto it = c.at("outputs").begin(); it != c.at("outputs").end(); ++it) {
    const std::string& k = it.key();
    if (k == "last_hidden_state")
      compare_tensor(cname, k, out.last_hidden_state, *it, mask, B, L, true, th, errors);
    else if (k == "pooler_output")
      compare_tensor(cname, k, out.pooler_output, *it, mask, B, L, false, th, errors);
    else if (k == "start_logits")
      compare_tensor(cname, k, out.start_logits, *it, mask, B, L, true, tl, errors);
    else if (k == "end_logits")
      compare_tensor(cname, k, out.end_logits, *it, mask, B, L, true, tl, errors);
    else if (k == "logits" && it->contains("topk"))
      compare_vocab_logits(cname, out.logits, *it, mask, B, L, tl, errors);
    else if (k == "logits")
      compare_tensor(cname, k, out.logits, *it, mask, B, L, positional_logits(model.task()), tl, errors);
    else
      errors.push_back(cname + ": unknown output '" + k + "' in goldens.json (runner does not know how to check it)");
  }
  return errors;
}

std::vector<std::string> run_model_fixture(const fs::path& dir, const models::LoadOptions& options) {
  const json g = load_goldens(dir);
  const std::string name = g.value("name", dir.filename().string());
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  models::LoadOptions opt = options;
  opt.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  auto model = models::AutoModel::from_pretrained(dir.string(), opt);
  if (model->architecture() != g["hf_class"].get<std::string>())
    errors.push_back(name + ": loaded " + model->architecture() + ", goldens are for " + g["hf_class"].get<std::string>());
  for (auto& w : warnings) errors.push_back(name + ": unexpected load warning: " + w);

  // Weight facts.
  const models::LoadReport& r = model->load_report();
  const json& w = g.at("weights");
  if (r.stored_dtype != w.value("dtype", "F32"))
    errors.push_back(name + ": stored dtype " + r.stored_dtype + ", goldens say " + w.value("dtype", "F32"));
  int64_t n_st = 0;
  const json files = w.value("files", json::array());
  for (auto& f : files)
    if (f.get<std::string>().size() > 12 && f.get<std::string>().find(".safetensors") != std::string::npos &&
        f.get<std::string>().find(".index.json") == std::string::npos)
      ++n_st;
  if (n_st > 0 && static_cast<int64_t>(r.weight_files.size()) != n_st)
    errors.push_back(name + ": read " + std::to_string(r.weight_files.size()) + " weight files, expected " +
                     std::to_string(n_st));
  const std::string prefix = w.value("key_prefix", "");
  const bool head = model->task() != models::Task::Base;
  if (r.added_prefix != (prefix.empty() && head))
    errors.push_back(name + std::string(": base prefix ") + (r.added_prefix ? "added" : "not added") +
                     " although the checkpoint's key_prefix is '" + prefix + "'");
  std::set<std::string> names;
  for (auto& [n, t] : model->state_dict()) names.insert(n);
  const json tied = w.value("tied_not_stored", json::object());
  for (auto& [alias, target] : tied.items()) {
    if (names.count(alias)) errors.push_back(name + ": tied weight " + alias + " is a separate parameter");
    if (!names.count(target.get<std::string>()))
      errors.push_back(name + ": tie target " + target.get<std::string>() + " is not a parameter");
  }
  std::set<std::string> ignored(r.ignored_keys.begin(), r.ignored_keys.end());
  const json ignorable = w.value("ignorable_keys", json::array());
  for (auto& k : ignorable)
    if (!ignored.count(k.get<std::string>()))
      errors.push_back(name + ": legacy key " + k.get<std::string>() + " was not ignored");
  if (!r.unexpected_keys.empty()) errors.push_back(name + ": unexpected keys " + r.unexpected_keys[0] + "...");
  if (!r.missing_keys.empty()) errors.push_back(name + ": missing keys " + r.missing_keys[0] + "...");
  if (w.contains("num_parameters") && model->num_parameters() != w["num_parameters"].get<int64_t>())
    errors.push_back(name + ": " + std::to_string(model->num_parameters()) + " parameters, goldens say " +
                     std::to_string(w["num_parameters"].get<int64_t>()));
  if (w.value("dtype", "F32") == "F32" && r.converted_tensors != 0)
    errors.push_back(name + ": " + std::to_string(r.converted_tensors) + " f32 weights were copied (expected zero-copy)");

  NoGradGuard no_grad;
  for (const json& c : g.at("forward")) {
    models::ModelInputs in = case_inputs(c);
    if (!model->accepts_token_type_ids()) in.token_type_ids = Tensor();
    models::ModelOutput out = model->forward(in);
    auto e = compare_forward_case(*model, g, c, out);
    errors.insert(errors.end(), e.begin(), e.end());
  }
  return errors;
}

}  // namespace xfmr::test
