#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "xfmr/io/safetensors.h"

using namespace xfmr;
namespace fs = std::filesystem;

namespace {

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xfmr_st_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes header JSON + data bytes with a correct length prefix (or `len_override`).
  fs::path craft(const std::string& header, const std::string& data, int64_t len_override = -1) {
    fs::path p = dir_ / ("f" + std::to_string(n_++) + ".safetensors");
    std::ofstream out(p, std::ios::binary);
    uint64_t n = len_override >= 0 ? static_cast<uint64_t>(len_override) : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out << header << data;
    return p;
  }
  // Expects opening `p` to throw an Error whose message contains every fragment.
  void expect_error(const fs::path& p, std::initializer_list<const char*> fragments) {
    try {
      io::SafetensorsFile::open(p);
      FAIL() << "no error for " << p;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      for (const char* f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
    }
  }
  fs::path dir_;
  int n_ = 0;
};

TEST_F(Safetensors, RoundTripAllDtypesZeroCopy) {
  std::vector<std::pair<std::string, Tensor>> ts = {
      {"f32", test::random_tensor({3, 4}, 1)},
      {"f16", test::random_tensor({5}, 2).to(DType::F16)},
      {"bf16", test::random_tensor({2, 2}, 3).to(DType::BF16)},
      {"i64", Tensor::arange(0, 7)},
      {"i32", Tensor::arange(0, 3, DType::I32)},
      {"i8", Tensor::arange(-2, 2, DType::I8)},
      {"u8", Tensor::arange(0, 2, DType::U8)},
      {"bool", Tensor::from_vector<bool>({true, false, true})},
      {"f64", Tensor::full({2}, 0.1, DType::F64)},
      {"scalar", Tensor::scalar(4.5)},
      {"empty", Tensor::empty({0, 3})},
      {"transposed", test::random_tensor({3, 2}, 4).transpose(0, 1)},
  };
  fs::path p = dir_ / "all.safetensors";
  io::save_safetensors(p, ts, {{"format", "pt"}});
  auto f = io::SafetensorsFile::open(p);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (const auto& [name, t] : ts) {
    Tensor r = f.get(name);
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    EXPECT_EQ(r.to(DType::F64).to_vector<double>(), t.to(DType::F64).to_vector<double>()) << name;
  }
  // Zero-copy: the f32 tensor points into the mapping and is read-only.
  Tensor r = f.get("f32");
  EXPECT_FALSE(r.storage()->owned());
  EXPECT_THROW(r.fill_(0), Error);
  // Conversion on request.
  EXPECT_EQ(f.get("bf16", DType::F32).dtype(), DType::F32);
  // The data area starts 8-byte aligned (header padded with spaces).
  std::ifstream in(p, std::ios::binary);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(in.get())) << (8 * i);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST_F(Safetensors, ReadsTheSharedFixtures) {
  fs::path dir = test::fixture_dir(nullptr, "fixtures/models/bert-masked-lm-sharded");
  XFMR_REQUIRE_DIR(dir, "the sharded BERT fixture");
  auto w = io::WeightFiles::open(dir);
  EXPECT_EQ(w.files().size(), 2u);
  EXPECT_TRUE(w.contains("bert.embeddings.word_embeddings.weight"));
  EXPECT_EQ(w.info("bert.embeddings.word_embeddings.weight").shape[0], 30522);
  fs::path f16 = test::fixture_dir(nullptr, "fixtures/models/bert-feature-extraction-f16");
  XFMR_REQUIRE_DIR(f16, "the F16 BERT fixture");
  auto w16 = io::WeightFiles::open(f16);
  auto names = w16.names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(w16.get(names[0]).dtype(), DType::F16);
  EXPECT_EQ(w16.get(names[0], DType::F32).dtype(), DType::F32);
}

TEST_F(Safetensors, TooShortAndTruncated) {
  fs::path p = dir_ / "short.safetensors";
  std::ofstream(p, std::ios::binary) << "abc";
  expect_error(p, {"too short"});
  expect_error(craft("{}", "", 1000), {"header length 1000", "longer than the file"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')),
               {"tensor 'a'", "exceed the data area"});
}

TEST_F(Safetensors, HugeHeaderLength) {
  expect_error(craft("{}", "", int64_t{1} << 40), {"100 MB"});
}

TEST_F(Safetensors, BadJson) {
  expect_error(craft(R"({"a": {"dtype": "F32", )", ""), {"malformed JSON"});
  expect_error(craft("[1, 2]", ""), {"must be a JSON object"});
  expect_error(craft(R"({"a": 5})", ""), {"tensor 'a'", "must be an object"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", ""), {"tensor 'a'", "shape"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", std::string(4, '\0')),
               {"data_offsets"});
  expect_error(craft(R"({"__metadata__": {"x": 1}})", ""), {"__metadata__"});
}

TEST_F(Safetensors, UnknownDtype) {
  expect_error(craft(R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", std::string(16, '\0')),
               {"tensor 'a'", "unknown dtype 'F128'"});
}

TEST_F(Safetensors, WrongByteCount) {
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')),
               {"tensor 'a'", "8 bytes stored", "needs 12"});
}

TEST_F(Safetensors, OverlapGapAndTrailingBytes) {
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                     std::string(12, '\0')),
               {"overlaps"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')), {"gap"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(8, '\0')),
               {"after the last tensor"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, '\0')),
               {"begin after end"});
}

TEST_F(Safetensors, DuplicateNames) {
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                     std::string(8, '\0')),
               {"'a' appears twice"});
}

TEST_F(Safetensors, ShapeOverflowAndTooManyDims) {
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[4611686018427387904, 8],"data_offsets":[0,0]}})", ""),
               {"overflows"});
  expect_error(craft(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})",
                     std::string(4, '\0')),
               {"9 dimensions"});
}

TEST_F(Safetensors, MissingTensorAndShardIndexErrors) {
  fs::path p = dir_ / "one.safetensors";
  io::save_safetensors(p, {{"w", Tensor::zeros({2})}});
  auto f = io::SafetensorsFile::open(p);
  EXPECT_THROW(f.get("nope"), Error);
  std::ofstream(dir_ / "model.safetensors.index.json") << R"({"weight_map": {"w": "one.safetensors", "v": "one.safetensors"}})";
  try {
    io::WeightFiles::open(dir_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'v'"), std::string::npos) << e.what();
  }
  std::ofstream(dir_ / "model.safetensors.index.json") << R"({"weight_map": {"w": "../etc/passwd"}})";
  EXPECT_THROW(io::WeightFiles::open(dir_), Error);
  EXPECT_THROW(io::WeightFiles::open(dir_ / "missing"), Error);
}

}  // namespace
