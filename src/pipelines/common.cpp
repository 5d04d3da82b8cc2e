#include "common.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "xfmr/core/error.h"
#include "xfmr/core/format.h"

namespace xfmr::pipelines {

// ---- JSON ------------------------------------------------------------------------------------------

namespace {

void append_string(const std::string& s, std::string& out) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void python_json_append(const json& v, std::string& out) {
  switch (v.type()) {
    case json::value_t::null: out += "null"; break;
    case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case json::value_t::number_integer: out += std::to_string(v.get<int64_t>()); break;
    case json::value_t::number_unsigned: out += std::to_string(v.get<uint64_t>()); break;
    case json::value_t::number_float: out += json_number(v.get<double>()); break;
    case json::value_t::string: append_string(v.get_ref<const std::string&>(), out); break;
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ", ";
        first = false;
        python_json_append(e, out);
      }
      out.push_back(']');
      break;
    }
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        append_string(it.key(), out);
        out += ": ";
        python_json_append(it.value(), out);
      }
      out.push_back('}');
      break;
    }
    default: XFMR_FAIL("python_json: unsupported JSON value");
  }
}

std::string python_json(const json& v) {
  std::string out;
  python_json_append(v, out);
  return out;
}

json parse_json(std::string_view text, const std::string& what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    XFMR_FAIL(what, ": malformed JSON (", e.what(), "): ", quote(text, 80));
  }
}

std::string json_ensure_ascii(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  auto put = [&](unsigned v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\u%04x", v);
    out += buf;
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == 0x7f) {
        put(0x7f);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    size_t len = 1;
    char32_t cp = cp_at_byte(s, i, &len);
    i += len;
    if (cp >= 0x10000) {
      unsigned v = static_cast<unsigned>(cp) - 0x10000;
      put(0xD800 + (v >> 10));
      put(0xDC00 + (v & 0x3FF));
    } else {
      put(static_cast<unsigned>(cp));
    }
  }
  return out;
}

// ---- keyword arguments -----------------------------------------------------------------------------

namespace detail {

Kwargs::Kwargs(std::string task, json object) : task_(std::move(task)), obj_(std::move(object)) {
  if (obj_.is_null()) obj_ = json::object();
  XFMR_CHECK(obj_.is_object(), task_, ": keyword arguments must be a JSON object, got ", python_json(obj_));
}

void Kwargs::type_error(const std::string& name, const char* expected) const {
  XFMR_FAIL(task_, ": parameter '", name, "' must be ", expected, ", got ", python_json(obj_.at(name)));
}

const json& Kwargs::raw(const std::string& name) {
  used_.insert(name);
  return obj_.at(name);
}

std::optional<int64_t> Kwargs::get_int(const std::string& name) {
  if (!has(name)) return std::nullopt;
  used_.insert(name);
  const json& v = obj_.at(name);
  if (v.is_null()) return std::nullopt;
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  type_error(name, "an integer");
}

std::optional<double> Kwargs::get_number(const std::string& name) {
  if (!has(name)) return std::nullopt;
  used_.insert(name);
  const json& v = obj_.at(name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_number()) type_error(name, "a number");
  return v.get<double>();
}

std::optional<bool> Kwargs::get_bool(const std::string& name) {
  if (!has(name)) return std::nullopt;
  used_.insert(name);
  const json& v = obj_.at(name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_boolean()) type_error(name, "true or false");
  return v.get<bool>();
}

std::optional<std::string> Kwargs::get_string(const std::string& name) {
  if (!has(name)) return std::nullopt;
  used_.insert(name);
  const json& v = obj_.at(name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_string()) type_error(name, "a string");
  return v.get<std::string>();
}

std::optional<std::vector<std::string>> Kwargs::get_string_list(const std::string& name) {
  if (!has(name)) return std::nullopt;
  used_.insert(name);
  const json& v = obj_.at(name);
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
  if (!v.is_array()) type_error(name, "a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) type_error(name, "a string or a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

void Kwargs::finish(const std::vector<std::string>& accepted) const {
  std::vector<std::string> unknown;
  for (auto it = obj_.begin(); it != obj_.end(); ++it)
    if (!used_.count(it.key())) unknown.push_back(it.key());
  if (unknown.empty()) return;
  std::string u, a;
  for (auto& s : unknown) u += (u.empty() ? "'" : ", '") + s + "'";
  for (auto& s : accepted) a += (a.empty() ? "" : ", ") + s;
  XFMR_FAIL(task_, ": unknown parameter", unknown.size() > 1 ? "s " : " ", u, " (accepted: ", a, ")");
}

std::vector<std::string> text_inputs(const std::vector<Input>& inputs, const std::string& task) {
  std::vector<std::string> texts;
  texts.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    XFMR_CHECK(inputs[i].kind == Input::Kind::Text, task, ": input ", i, " must be a text");
    texts.push_back(inputs[i].text);
  }
  return texts;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace detail

// ---- UTF-8 -----------------------------------------------------------------------------------------

char32_t cp_at_byte(std::string_view s, size_t i, size_t* len) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    if (len) *len = 1;
    return 0xFFFD;
  }
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) {
      if (len) *len = 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (len) *len = n;
  return cp;
}

size_t cp_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

size_t cp_to_byte(std::string_view s, size_t cp) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == cp) return i;
      ++seen;
    }
  }
  return s.size();
}

std::string cp_slice(std::string_view s, size_t begin, size_t end) {
  if (end <= begin) return {};
  size_t b = cp_to_byte(s, begin);
  size_t e = cp_to_byte(s, end);
  return std::string(s.substr(b, e - b));
}

// ---- numerics ----------------------------------------------------------------------------------------

void softmax_f32(std::span<const float> x, std::span<float> out) {
  if (x.empty()) return;
  float m = *std::max_element(x.begin(), x.end());
  double sum = 0;  // numpy sums float32 pairwise (nearly exact); a double accumulator matches that
  for (size_t i = 0; i < x.size(); ++i) {
    out[i] = std::exp(x[i] - m);
    sum += out[i];
  }
  const float s = static_cast<float>(sum);
  for (size_t i = 0; i < x.size(); ++i) out[i] /= s;
}

std::vector<float> softmax_f32(std::span<const float> x) {
  std::vector<float> out(x.size());
  softmax_f32(x, out);
  return out;
}

std::string quote(std::string_view s, size_t max_chars) {
  std::string body;
  if (cp_length(s) > max_chars) {
    body = cp_slice(s, 0, max_chars) + "...";
  } else {
    body = std::string(s);
  }
  return python_json(json(body));
}

}  // namespace xfmr::pipelines
