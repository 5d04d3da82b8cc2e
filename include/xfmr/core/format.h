// Number formatting that matches Python, so our JSON output is byte-identical to what
// HuggingFace's Python tools print.
#pragma once

#include <string>

namespace xfmr {

// repr(float(x)) in Python 3: the shortest string that round-trips, in fixed notation for
// 1e-4 <= |x| < 1e16 ("0.9998", "12.0") and scientific otherwise ("1e-05", "1.5e+16");
// "NaN"/"Infinity" are written as JSON-compatible tokens by json_number(), not here.
std::string python_float_repr(double x);

// A JSON number for x (python_float_repr), or "NaN", "Infinity", "-Infinity" like Python's json.
std::string json_number(double x);

}  // namespace xfmr
