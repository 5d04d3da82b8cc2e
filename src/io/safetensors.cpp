#include "xfmr/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "xfmr/core/error.h"
#include "xfmr/io/mapped_file.h"

namespace xfmr::io {
namespace {

using nlohmann::json;

// Same limit as the reference implementation: a header above 100 MB is rejected as malicious.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t as_u64(const json& j, const std::string& label, const std::string& name, const char* field) {
  XFMR_CHECK(j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0), label, ": tensor '",
             name, "': ", field, " must contain non-negative integers, got ", j.dump());
  return j.get<uint64_t>();
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  return parse(file->data(), file->size(), file, path.string());
}

SafetensorsFile SafetensorsFile::parse(const uint8_t* data, size_t size, std::shared_ptr<const void> owner,
                                       const std::string& label) {
  SafetensorsFile f;
  f.label_ = label;
  f.owner_ = std::move(owner);
  XFMR_CHECK(size >= 8, label, ": not a safetensors file: ", size, " bytes, too short for the 8-byte header length");
  uint64_t n = read_u64_le(data);
  XFMR_CHECK(n <= kMaxHeaderBytes, label, ": header length ", n, " exceeds the 100 MB limit (corrupt file?)");
  XFMR_CHECK(n <= size - 8, label, ": header length ", n, " is longer than the file (", size,
             " bytes): truncated or not a safetensors file");
  const char* hb = reinterpret_cast<const char*>(data + 8);
  const uint64_t data_size = size - 8 - n;
  f.data_area_ = data + 8 + n;

  // Parse the header, rejecting duplicate top-level names (nlohmann would keep the last one).
  std::set<std::string> seen;
  std::string duplicate;
  json header;
  try {
    header = json::parse(hb, hb + n, [&](int depth, json::parse_event_t ev, json& parsed) {
      if (ev == json::parse_event_t::key && depth == 1) {
        auto key = parsed.get<std::string>();
        if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
      }
      return true;
    });
  } catch (const json::exception& e) {
    detail::fail(label, ": malformed JSON header: ", e.what());
  }
  XFMR_CHECK(duplicate.empty(), label, ": tensor name '", duplicate, "' appears twice in the header");
  XFMR_CHECK(header.is_object(), label, ": the header must be a JSON object, got ", header.type_name());

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      XFMR_CHECK(v.is_object(), label, ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        XFMR_CHECK(m.value().is_string(), label, ": __metadata__ value of '", m.key(), "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    XFMR_CHECK(v.is_object(), label, ": tensor '", name, "': entry must be an object, got ", v.dump());
    TensorInfo info;
    info.name = name;
    auto dt = v.find("dtype");
    XFMR_CHECK(dt != v.end() && dt->is_string(), label, ": tensor '", name, "': missing dtype");
    XFMR_CHECK(dtype_from_safetensors_name(dt->get<std::string>(), &info.dtype), label, ": tensor '", name,
               "': unknown dtype '", dt->get<std::string>(), "'");
    auto sh = v.find("shape");
    XFMR_CHECK(sh != v.end() && sh->is_array(), label, ": tensor '", name, "': missing shape");
    XFMR_CHECK(sh->size() <= static_cast<size_t>(Shape::kMaxDims), label, ": tensor '", name, "': ", sh->size(),
               " dimensions (at most ", Shape::kMaxDims, " supported)");
    uint64_t numel = 1;
    for (const json& d : *sh) {
      uint64_t dim = as_u64(d, label, name, "shape");
      XFMR_CHECK(dim <= (uint64_t{1} << 62) && !__builtin_mul_overflow(numel, dim, &numel), label, ": tensor '",
                 name, "': shape ", sh->dump(), " overflows");
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = v.find("data_offsets");
    XFMR_CHECK(off != v.end() && off->is_array() && off->size() == 2, label, ": tensor '", name,
               "': data_offsets must be [begin, end]");
    info.begin = as_u64((*off)[0], label, name, "data_offsets");
    info.end = as_u64((*off)[1], label, name, "data_offsets");
    XFMR_CHECK(info.begin <= info.end, label, ": tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
               "] has begin after end");
    XFMR_CHECK(info.end <= data_size, label, ": tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
               "] exceed the data area of ", data_size, " bytes (truncated file?)");
    uint64_t expected = 0;
    XFMR_CHECK(!__builtin_mul_overflow(numel, dtype_size(info.dtype), &expected), label, ": tensor '", name,
               "': byte size overflows");
    XFMR_CHECK(info.end - info.begin == expected, label, ": tensor '", name, "': ", info.end - info.begin,
               " bytes stored but shape ", info.shape, " of ", dtype_safetensors_name(info.dtype), " needs ",
               expected);
    f.index_[name] = f.tensors_.size();
    f.tensors_.push_back(std::move(info));
  }

  // The tensors must tile the data area exactly: no overlap, no gap, nothing left over.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : f.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : by_offset) {
    XFMR_CHECK(t->begin >= pos, label, ": tensor '", t->name, "' [", t->begin, ", ", t->end, ") overlaps tensor '",
               prev ? prev->name : "", "' (which ends at ", pos, ")");
    XFMR_CHECK(t->begin == pos, label, ": gap of ", t->begin - pos, " bytes before tensor '", t->name,
               "' in the data area");
    pos = t->end;
    prev = t;
  }
  XFMR_CHECK(pos == data_size, label, ": the data area has ", data_size - pos,
             " bytes after the last tensor (the tensors do not cover the file)");
  return f;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  XFMR_CHECK(it != index_.end(), label_, ": no tensor named '", name, "'");
  return tensors_[it->second];
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const TensorInfo& ti = info(name);
  const uint8_t* p = data_area_ + ti.begin;
  size_t nbytes = ti.end - ti.begin;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(ti.dtype) == 0) {
    auto st = Storage::borrow(const_cast<uint8_t*>(p), nbytes, owner_, /*writable=*/false);
    return Tensor::from_storage(st, ti.dtype, ti.shape, contiguous_strides(ti.shape));
  }
  Tensor t = Tensor::empty(ti.shape, ti.dtype);
  if (nbytes) std::memcpy(t.raw_data(), p, nbytes);
  return t;
}

Tensor SafetensorsFile::get(const std::string& name, DType dtype) const { return get(name).to(dtype); }

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // The header lists __metadata__ first, then tensors in the given order (ordered_json keeps order).
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    XFMR_CHECK(name != "__metadata__", "save_safetensors: '__metadata__' is reserved");
    XFMR_CHECK(names.insert(name).second, "save_safetensors: tensor name '", name, "' given twice");
    XFMR_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    uint64_t nb = t.nbytes();
    header[name] = {{"dtype", dtype_safetensors_name(t.dtype())},
                    {"shape", t.shape().vec()},
                    {"data_offsets", {offset, offset + nb}}};
    offset += nb;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    XFMR_CHECK(out.good(), "save_safetensors: cannot write ", tmp);
    uint8_t len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& [name, t] : tensors) {
      Tensor c = t.contiguous();
      out.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.nbytes()));
    }
    out.flush();
    XFMR_CHECK(out.good(), "save_safetensors: write to ", tmp, " failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  XFMR_CHECK(!ec, "save_safetensors: cannot rename ", tmp, " to ", path, ": ", ec.message());
}

// ------------------------------------------------------------------ WeightFiles

WeightFiles WeightFiles::open(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  WeightFiles w;
  fs::path p = path;
  if (fs::is_directory(p)) {
    if (fs::exists(p / "model.safetensors.index.json")) p = p / "model.safetensors.index.json";
    else if (fs::exists(p / "model.safetensors")) p = p / "model.safetensors";
    else detail::fail("no model.safetensors or model.safetensors.index.json in ", path);
  }
  XFMR_CHECK(fs::exists(p), "weights file not found: ", p);
  if (p.extension() == ".json") {
    std::ifstream in(p);
    XFMR_CHECK(in.good(), "cannot read ", p);
    nlohmann::json idx;
    try {
      idx = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      detail::fail(p.string(), ": malformed JSON: ", e.what());
    }
    XFMR_CHECK(idx.is_object() && idx.contains("weight_map") && idx["weight_map"].is_object(), p.string(),
               ": missing \"weight_map\" object");
    std::map<std::string, size_t> file_index;
    std::map<std::string, std::string> expected_file;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      XFMR_CHECK(it.value().is_string(), p.string(), ": weight_map entry '", it.key(), "' is not a file name");
      std::string file = it.value().get<std::string>();
      XFMR_CHECK(file.find('/') == std::string::npos && file != ".." && !file.empty(), p.string(),
                 ": weight_map entry '", it.key(), "' names a file outside the folder: ", file);
      if (!file_index.count(file)) {
        file_index[file] = w.files_.size();
        w.files_.push_back(SafetensorsFile::open(p.parent_path() / file));
      }
      expected_file[it.key()] = file;
    }
    for (const auto& [name, file] : expected_file) {
      const auto& sf = w.files_[file_index[file]];
      XFMR_CHECK(sf.contains(name), p.string(), ": weight_map says '", name, "' is in ", file,
                 " but that file has no such tensor");
      w.where_[name] = file_index[file];
    }
    // Tensors present in a shard but absent from the map are still usable (HF ignores the map there).
    for (size_t i = 0; i < w.files_.size(); ++i)
      for (const auto& t : w.files_[i].tensors()) w.where_.emplace(t.name, i);
  } else {
    w.files_.push_back(SafetensorsFile::open(p));
    for (const auto& t : w.files_[0].tensors()) w.where_[t.name] = 0;
  }
  return w;
}

std::vector<std::string> WeightFiles::names() const {
  std::vector<std::string> n;
  for (const auto& [k, v] : where_) n.push_back(k);
  return n;
}

const TensorInfo& WeightFiles::info(const std::string& name) const {
  auto it = where_.find(name);
  XFMR_CHECK(it != where_.end(), "no weight named '", name, "' in ",
             files_.empty() ? std::string("(no files)") : files_[0].label());
  return files_[it->second].info(name);
}

Tensor WeightFiles::get(const std::string& name) const {
  (void)info(name);
  return files_[where_.at(name)].get(name);
}

Tensor WeightFiles::get(const std::string& name, DType dtype) const { return get(name).to(dtype); }

uint64_t WeightFiles::total_bytes() const {
  uint64_t s = 0;
  for (const auto& f : files_)
    for (const auto& t : f.tensors()) s += t.end - t.begin;
  return s;
}

}  // namespace xfmr::io
