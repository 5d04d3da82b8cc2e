// safetensors: HuggingFace's weight format (8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw little-endian data).
//
// Reading memory-maps the file and validates everything before any tensor is touched: header
// length against the file size, well-formed JSON, known dtypes, shapes, every data_offsets range
// inside the data area, byte counts = numel x dtype size, no overlaps or gaps (the data area must be
// covered exactly, as the reference library requires) and no duplicate names. Any violation throws
// xfmr::Error naming the file and the tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data area
};

class SafetensorsFile {
 public:
  // Memory-maps and validates `path`.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates an in-memory buffer (kept alive by `owner`); `label` names it in errors.
  static SafetensorsFile parse(const uint8_t* data, size_t size, std::shared_ptr<const void> owner,
                               const std::string& label);

  const std::string& label() const { return label_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in header order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;

  // The tensor as stored: a zero-copy read-only view of the file when the data is aligned for its
  // dtype (always the case for files written by HF or xfmr), else an aligned copy.
  Tensor get(const std::string& name) const;
  // The tensor converted to `dtype` (zero-copy when it already has that dtype).
  Tensor get(const std::string& name, DType dtype) const;

 private:
  std::string label_;
  std::shared_ptr<const void> owner_;
  const uint8_t* data_area_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (any dtype, any layout; written contiguous, in the given order) with optional
// string metadata. The header is padded with spaces so the data area starts 8-byte aligned.
// Writes to a temporary file and renames it, so a crash never leaves a truncated file behind.
void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// A set of safetensors files seen as one name -> tensor map: a single model.safetensors, or the
// shards listed by model.safetensors.index.json ({"weight_map": {name: file}}).
class WeightFiles {
 public:
  // `path` is a .safetensors file, an index .json file, or a folder containing either
  // (model.safetensors.index.json is preferred over model.safetensors when both exist).
  static WeightFiles open(const std::filesystem::path& path);

  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  Tensor get(const std::string& name) const;
  Tensor get(const std::string& name, DType dtype) const;
  const std::vector<SafetensorsFile>& files() const { return files_; }
  uint64_t total_bytes() const;

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

}  // namespace xfmr::io
