#include <gtest/gtest.h>

#include <cmath>

#include "xfmr/core/format.h"

using xfmr::json_number;
using xfmr::python_float_repr;

TEST(Format, MatchesPythonRepr) {
  // Expected strings are Python 3's repr() of the same doubles.
  EXPECT_EQ(python_float_repr(static_cast<double>(0.99984538555145263671875f)), "0.9998453855514526");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(12.0), "12.0");
  EXPECT_EQ(python_float_repr(123456.5), "123456.5");
  EXPECT_EQ(python_float_repr(1e-4), "0.0001");
  EXPECT_EQ(python_float_repr(1e-5), "1e-05");
  EXPECT_EQ(python_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(python_float_repr(-2.5), "-2.5");
  EXPECT_EQ(python_float_repr(0.0), "0.0");
  EXPECT_EQ(python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(python_float_repr(5e-324), "5e-324");
  EXPECT_EQ(python_float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(python_float_repr(static_cast<double>(3.0517578125e-05f)), "3.0517578125e-05");
  EXPECT_EQ(json_number(NAN), "NaN");
  EXPECT_EQ(json_number(-INFINITY), "-Infinity");
}
