// The huggingface_hub cache layout on disk: refs, blobs, snapshot symlinks, .no_exist markers and
// download locks. Private to src/io.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace xfmr::io::hub_detail {

namespace fs = std::filesystem;

// A name usable as one path component taken from the network (commit hash, ETag): non-empty,
// at most 255 bytes, only [A-Za-z0-9._-], and not "." or "..".
bool is_safe_component(const std::string& s);
// A repo-relative file name: '/'-separated components, none empty, ".", ".." or containing '\\'
// or NUL, not absolute.
bool is_safe_relative_file(const std::string& s);
// A revision name: a non-empty ref like "main", "v1.0", "refs/pr/3" (no "..", no empty component,
// no control characters), at most 255 bytes.
bool is_safe_revision(const std::string& s);
// 40 lowercase hex digits (huggingface_hub's REGEX_COMMIT_HASH).
bool is_commit_hash(const std::string& s);
// The normalised ETag (quotes and a weak W/ prefix removed).
std::string normalize_etag(std::string etag);

// `~` at the start of a path -> $HOME.
fs::path expand_user(const std::string& p);

class RepoCache {
 public:
  RepoCache(fs::path cache_dir, const std::string& repo_id);
  const fs::path& cache_dir() const { return cache_dir_; }
  const fs::path& root() const { return root_; }  // <cache>/models--org--name

  fs::path ref_path(const std::string& revision) const { return root_ / "refs" / revision; }
  fs::path blob_path(const std::string& etag) const { return root_ / "blobs" / etag; }
  fs::path snapshot_dir(const std::string& commit) const { return root_ / "snapshots" / commit; }
  fs::path pointer_path(const std::string& commit, const std::string& file) const {
    return snapshot_dir(commit) / file;
  }
  fs::path no_exist_path(const std::string& commit, const std::string& file) const {
    return root_ / ".no_exist" / commit / file;
  }
  // huggingface_hub >= 0.23 locks <cache>/.locks/models--org--name/<etag>.lock with fcntl/flock,
  // so using the same path makes xfmr and Python exclude each other.
  fs::path lock_path(const std::string& etag) const { return cache_dir_ / ".locks" / root_.filename() / (etag + ".lock"); }

  // The commit a revision resolves to locally: itself for a commit hash, else the content of
  // refs/<revision> (whitespace-trimmed), else nothing.
  std::optional<std::string> local_commit(const std::string& revision) const;
  // Writes refs/<revision> = commit (atomically, and only when it changes) unless revision == commit.
  void write_ref(const std::string& revision, const std::string& commit) const;
  // snapshots/<commit>/<file> -> relative symlink to ../../blobs/<etag> (replaced atomically).
  void link_pointer(const std::string& commit, const std::string& file, const std::string& etag) const;
  // Creates the empty .no_exist/<commit>/<file> marker (best effort).
  void mark_missing(const std::string& commit, const std::string& file) const;

 private:
  fs::path cache_dir_, root_;
};

// An exclusive flock on a lock file (created if needed), released by the destructor. Waits, printing
// `waiting_note` once to stderr when it is non-empty and the wait exceeds 10 seconds.
class FileLock {
 public:
  FileLock(const fs::path& path, const std::string& waiting_note);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// Reads a whole small file into a string; throws xfmr::Error naming the path on failure.
std::string read_text_file(const fs::path& p);
// Writes `text` to `p` through a temporary file + rename.
void write_text_file_atomic(const fs::path& p, const std::string& text);

}  // namespace xfmr::io::hub_detail
