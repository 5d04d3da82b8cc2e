#include <gtest/gtest.h>

#include "common/test_util.h"
#include "xfmr/core/random.h"
#include "xfmr/core/tensor.h"

using namespace xfmr;

namespace {

Tensor iota(const Shape& s) {
  Tensor t = Tensor::empty(s);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(i);
  return t;
}

TEST(Tensor, FactoriesAndAlignment) {
  Tensor z = Tensor::zeros({3, 5});
  EXPECT_EQ(z.numel(), 15);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(z.raw_data()) % 64, 0u);
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.f);
  Tensor f = Tensor::full({2}, 2.5, DType::F64);
  EXPECT_EQ(f.to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  Tensor a = Tensor::arange(2, 6);
  EXPECT_EQ(a.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(Tensor::scalar(3).item(), 3.0);
  EXPECT_EQ(Tensor::scalar(3).dim(), 0);
}

TEST(Tensor, AllDtypesRoundTrip) {
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I8, DType::U8,
                  DType::Bool}) {
    Tensor x = Tensor::from_vector<float>({0.f, 1.f, 2.f, 3.f}).to(t);
    EXPECT_EQ(x.dtype(), t);
    auto back = x.to_float_vector();
    if (t == DType::Bool) EXPECT_EQ(back, (std::vector<float>{0, 1, 1, 1}));
    else EXPECT_EQ(back, (std::vector<float>{0, 1, 2, 3})) << dtype_name(t);
  }
}

TEST(Tensor, HalfConversionsRoundToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604644775390625e-08f);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);                    // rounds to inf
  // 1 + 2^-8 is a tie between bf16 1.0 and 1.0078125: ties go to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = iota({2, 3, 4});
  Tensor t = x.transpose(0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.storage().get(), x.storage().get());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  // c[i][j][k] = x[k][j][i]
  auto v = c.to_vector<float>();
  EXPECT_EQ(v[1], 12.f);  // c[0][0][1] = x[1][0][0]
  Tensor p = x.permute({1, 2, 0});
  EXPECT_EQ(p.shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(p.contiguous().to_vector<float>()[1], 12.f);
  Tensor n = x.narrow(2, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(n.contiguous().to_vector<float>()[0], 1.f);
  Tensor s = x.slice(2, 0, 4, 2);
  EXPECT_EQ(s.contiguous().to_vector<float>(), (std::vector<float>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}));
  Tensor sel = x.select(0, 1);
  EXPECT_EQ(sel.shape(), (Shape{3, 4}));
  EXPECT_EQ(sel.contiguous().to_vector<float>()[0], 12.f);
  Tensor u = x.unsqueeze(1);
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(u.squeeze(1).shape(), x.shape());
  Tensor e = Tensor::from_vector<float>({1, 2, 3}).unsqueeze(0).expand({4, 3});
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.contiguous().to_vector<float>()[10], 2.f);
}

TEST(Tensor, ViewAndReshape) {
  Tensor x = iota({2, 3, 4});
  EXPECT_EQ(x.view({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_EQ(x.view({6, -1}).storage().get(), x.storage().get());
  Tensor t = x.transpose(1, 2);  // [2,4,3], not viewable as [2,12]... actually [8,3] is not either
  EXPECT_THROW(t.view({2, 12}), Error);
  Tensor r = t.reshape({2, 12});
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_EQ(r.to_vector<float>()[1], 4.f);
  // a transposed view can still be split along a dim that stays contiguous
  Tensor y = iota({4, 6}).transpose(0, 1).view({2, 3, 4});
  EXPECT_EQ(y.contiguous().to_vector<float>()[1], 6.f);
  EXPECT_EQ(x.flatten(1).shape(), (Shape{2, 12}));
}

TEST(Tensor, ErrorsNameOpShapesAndDtypes) {
  Tensor x = iota({2, 3});
  try {
    x.view({4, 2});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("view"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[4, 2]"), std::string::npos);
  }
  try {
    (void)x.data<int64_t>();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32[2, 3]"), std::string::npos);
  }
  EXPECT_THROW(x.transpose(0, 5), Error);
  EXPECT_THROW(x.narrow(1, 2, 2), Error);
  EXPECT_THROW(x.expand({4, 4}), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2}, {3}), Error);
}

TEST(Tensor, CopyBroadcastAndConvert) {
  Tensor dst = Tensor::zeros({2, 3}, DType::F64);
  dst.copy_(Tensor::from_vector<float>({1, 2, 3}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  Tensor col = Tensor::zeros({3, 2});
  col.transpose(0, 1).copy_(iota({2, 3}));
  EXPECT_EQ(col.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, ReadOnlyStorageRejectsWrites) {
  static float buf[4] = {1, 2, 3, 4};
  auto st = Storage::borrow(buf, sizeof(buf), nullptr, false);
  Tensor t = Tensor::from_storage(st, DType::F32, {4}, {1});
  EXPECT_EQ(t.to_vector<float>()[2], 3.f);
  EXPECT_THROW(t.fill_(0), Error);
  EXPECT_THROW(Tensor::from_storage(st, DType::F32, {5}, {1}), Error);
}

TEST(Tensor, AllocatorReusesBlocks) {
  void* first;
  {
    Tensor a = Tensor::empty({1000});
    first = a.raw_data();
  }
  Tensor b = Tensor::empty({1000});
  EXPECT_EQ(b.raw_data(), first);
}

TEST(Generator, DeterministicForASeed) {
  Generator a(42), b(42);
  Tensor x = randn({100}, a), y = randn({100}, b);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  std::string s = a.state();
  float n1 = a.normal();
  b.set_state(s);
  EXPECT_EQ(b.normal(), n1);
}

}  // namespace
