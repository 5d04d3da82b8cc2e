// Read-only memory-mapped files. Tensors created from a MappedFile keep it alive through their
// Storage, so weights are used in place (zero-copy) and paged in lazily by the OS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace xfmr::io {

class MappedFile {
 public:
  // Maps the whole file; throws xfmr::Error naming the path when it cannot be opened.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace xfmr::io
