#include "io/hub_cache.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "xfmr/io/hub.h"

namespace xfmr::io::hub_detail {
namespace {

std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)) + "." +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

[[noreturn]] void cache_fail(const std::string& msg) { throw HubError(HubErrorKind::Cache, msg); }

}  // namespace

bool is_safe_component(const std::string& s) {
  if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

bool is_safe_relative_file(const std::string& s) {
  if (s.empty() || s.size() > 4096 || s.front() == '/') return false;
  size_t begin = 0;
  while (true) {
    size_t end = s.find('/', begin);
    std::string part = s.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (part.empty() || part == "." || part == ".." || part.size() > 255) return false;
    for (unsigned char c : part)
      if (c < 0x20 || c == 0x7f || c == '\\') return false;
    if (end == std::string::npos) return true;
    begin = end + 1;
  }
}

bool is_safe_revision(const std::string& s) {
  if (s.size() > 255) return false;
  return is_safe_relative_file(s);
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  size_t b = 0, e = etag.size();
  while (b < e && etag[b] == '"') ++b;
  while (e > b && etag[e - 1] == '"') --e;
  return etag.substr(b, e - b);
}

fs::path expand_user(const std::string& p) {
  if (p.empty() || p[0] != '~' || (p.size() > 1 && p[1] != '/')) return p;
  std::string home;
  if (const char* h = std::getenv("HOME"); h && *h) {
    home = h;
  } else if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) {
    home = pw->pw_dir;
  }
  return home + p.substr(1);
}

RepoCache::RepoCache(fs::path cache_dir, const std::string& repo_id)
    : cache_dir_(std::move(cache_dir)), root_(cache_dir_ / repo_folder_name(repo_id)) {}

std::optional<std::string> RepoCache::local_commit(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  std::error_code ec;
  fs::path ref = ref_path(revision);
  if (!fs::is_regular_file(ref, ec)) return std::nullopt;
  std::ifstream in(ref, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  s = s.substr(b);
  if (!is_safe_component(s)) return std::nullopt;  // corrupt ref: behave as if absent
  return s;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;
  auto current = local_commit(revision);
  if (current && *current == commit) return;  // unchanged: no write (the cache may be read-only)
  write_text_file_atomic(ref_path(revision), commit);
}

void RepoCache::link_pointer(const std::string& commit, const std::string& file, const std::string& etag) const {
  fs::path pointer = pointer_path(commit, file);
  std::error_code ec;
  fs::create_directories(pointer.parent_path(), ec);
  if (ec) cache_fail("hub cache: cannot create " + pointer.parent_path().string() + ": " + ec.message());
  // snapshots/<commit>/<file> is 2 + (number of '/' in file) levels below the repo folder.
  std::string target;
  size_t depth = 2;
  for (char c : file)
    if (c == '/') ++depth;
  for (size_t i = 0; i < depth; ++i) target += "../";
  target += "blobs/" + etag;
  fs::path tmp = pointer.parent_path() / (".tmp-link-" + unique_suffix());
  fs::create_symlink(target, tmp, ec);
  if (ec) cache_fail("hub cache: cannot create the symlink " + tmp.string() + " -> " + target + ": " + ec.message());
  fs::rename(tmp, pointer, ec);
  if (ec) {
    fs::remove(tmp);
    cache_fail("hub cache: cannot create " + pointer.string() + ": " + ec.message());
  }
}

void RepoCache::mark_missing(const std::string& commit, const std::string& file) const {
  fs::path marker = no_exist_path(commit, file);
  std::error_code ec;
  fs::create_directories(marker.parent_path(), ec);
  if (ec) return;
  std::ofstream touch(marker, std::ios::app);
}

FileLock::FileLock(const fs::path& path, const std::string& waiting_note) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
  if (fd_ < 0) cache_fail("hub cache: cannot open the lock file " + path.string() + ": " + std::strerror(errno));
  auto start = std::chrono::steady_clock::now();
  bool noted = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd_);
      cache_fail("hub cache: cannot lock " + path.string() + ": " + std::strerror(err));
    }
    if (!noted && !waiting_note.empty() && std::chrono::steady_clock::now() - start > std::chrono::seconds(10)) {
      std::cerr << waiting_note << " (lock " << path.string() << ")\n";
      noted = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

std::string read_text_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  XFMR_CHECK(in.good(), "hub: cannot read ", p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text_file_atomic(const fs::path& p, const std::string& text) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) cache_fail("hub cache: cannot create " + p.parent_path().string() + ": " + ec.message());
  fs::path tmp = p.parent_path() / (".tmp-" + p.filename().string() + "-" + unique_suffix());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) cache_fail("hub cache: cannot write " + tmp.string());
    out << text;
    out.close();
    if (!out) cache_fail("hub cache: cannot write " + tmp.string());
  }
  fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp);
    cache_fail("hub cache: cannot write " + p.string() + ": " + ec.message());
  }
}

}  // namespace xfmr::io::hub_detail
