// Shared pieces of the PyTorch-parity runner (tests/nn/test_nn_parity.cpp): the per-case checker
// that compares against every `expected` tensor at its stated tolerance and fails when one is left
// unchecked, JSON helpers that fail loudly on missing or unknown entries, and the family runners.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/nn_fixture.h"
#include "common/test_util.h"
#include "xfmr/core/tensor.h"

namespace xfmr::parity {

using json = nlohmann::json;

class Checker {
 public:
  explicit Checker(const test::NnCase& c) : c_(c) {}
  // Compares `actual` with the expected tensor `name` at the tolerance of spec.expected[name]
  // (atol overridable, e.g. per position range), element-wise |a - e| <= atol + rtol |e|.
  void expect(const std::string& name, const Tensor& actual, double atol = -1.0, double rtol = -1.0);
  // Compares against an explicit expected tensor slice (records `name` as checked).
  void expect_slice(const std::string& name, const Tensor& actual, const Tensor& expected, double atol, double rtol);
  void mark_checked(const std::string& name) { checked_.insert(name); }
  // Every entry of spec.expected must have been compared.
  void finish() const;
  const test::NnCase& c() const { return c_; }
  int compared() const { return static_cast<int>(checked_.size()); }

 private:
  const test::NnCase& c_;
  std::set<std::string> checked_;
};

// The expected tensor as stored (F64 stays F64).
Tensor raw(const test::NnCase& c, const std::string& name);
// Tensor named by a JSON string value (nullptr -> undefined).
Tensor tensor_ref(const test::NnCase& c, const json& v);

// JSON accessors that throw (-> test failure) with the case and key named.
const json& at(const json& j, const std::string& key, const std::string& where);
// Fails when `args` has a key outside `known` (an argument this runner does not understand).
void require_known_keys(const json& args, const std::set<std::string>& known, const std::string& where);
// First number captured by `pattern` (an ECMAScript regex with one group) in `text`; throws when absent.
double find_number(const std::string& text, const std::string& pattern, const std::string& where);
// All strings of a JSON string or array of strings, joined by newlines.
std::string text_of(const json& j);

// Family runners (one per family of INDEX.json).
void run_mha(const test::NnCase& c, Checker& k);
void run_module(const test::NnCase& c, Checker& k);  // encoder_layer, decoder_layer, encoder, transformer
void run_posenc(const test::NnCase& c, Checker& k);
void run_blocks(const test::NnCase& c, Checker& k);
void run_lm(const test::NnCase& c, Checker& k);
void run_lm_traj(const test::NnCase& c, Checker& k);
void run_optim(const test::NnCase& c, Checker& k);
void run_sched(const test::NnCase& c, Checker& k);

}  // namespace xfmr::parity
