// A fake HuggingFace hub on 127.0.0.1 for the hub tests: a small HTTP/1.1 server (POSIX sockets, an
// ephemeral port, one thread per connection, Connection: close) that answers like huggingface.co:
//
//   HEAD/GET /{repo}/resolve/{revision}/{file}
//     regular file  -> 200, ETag: "<git-sha-like>", X-Repo-Commit, Content-Length (+ body for GET)
//     LFS file      -> 302, Location: http://{lfs_host}:{port}/cdn/<sha256-like>?sig=..., X-Linked-Etag,
//                      X-Linked-Size, X-Repo-Commit, ETag of the pointer file
//     missing file  -> 404, X-Error-Code: EntryNotFound, X-Repo-Commit
//     unknown repo  -> 404, X-Error-Code: RepoNotFound;  unknown revision -> 404 RevisionNotFound
//     token needed  -> 401 (X-Error-Code: GatedRepo for gated repos) unless Authorization: Bearer <token>
//     renamed repo  -> 307 to the relative /{new}/resolve/... URL
//   GET /cdn/<etag>            the LFS bytes, with Range: bytes=N- support (206 + Content-Range, 416)
//   GET /api/models/{repo}/revision/{revision}   {"id", "sha", "siblings": [{"rfilename"}...]}
//
// ETags and commit hashes have the hub's shapes (40 / 64 lowercase hex) but are FNV-based stand-ins,
// not real SHA-1/SHA-256. Every request is logged so tests can check what was (not) asked.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xfmr::test {

struct LoggedRequest {
  std::string method;
  std::string target;                          // path + query as sent
  std::string path;                            // without the query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class LoopbackHub {
 public:
  LoopbackHub();   // binds 127.0.0.1:0 and starts serving
  ~LoopbackHub();  // stops and joins every thread
  LoopbackHub(const LoopbackHub&) = delete;
  LoopbackHub& operator=(const LoopbackHub&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Adds a commit holding `files` (name -> bytes) to `repo` and points `branch` at it. Files ending
  // in .safetensors, .bin, .h5 or .msgpack are served as LFS files. Returns the commit hash.
  std::string add_commit(const std::string& repo, const std::map<std::string, std::string>& files,
                         const std::string& branch = "main");
  // add_commit with the regular files of a folder (only `only` when not empty).
  std::string add_folder(const std::string& repo, const std::filesystem::path& dir, const std::string& branch = "main",
                         const std::vector<std::string>& only = {});
  void set_ref(const std::string& repo, const std::string& ref, const std::string& commit);
  void require_token(const std::string& repo, const std::string& token, bool gated = false);
  void add_rename(const std::string& old_repo, const std::string& new_repo);

  // The ETag the hub sends for a file of a commit (X-Linked-Etag for LFS files).
  std::string etag_of(const std::string& repo, const std::string& commit, const std::string& file) const;

  void set_api_enabled(bool on) { api_enabled_ = on; }           // off: /api/ answers a bare 404
  void set_lfs_host(const std::string& host);                    // host used in LFS Location URLs
  void cut_next_downloads(int count, size_t after_bytes);        // next CDN bodies stop after N bytes
  void set_cdn_delay_ms(int ms) { cdn_delay_ms_ = ms; }          // sleep per 256 kB chunk on /cdn/

  std::vector<LoggedRequest> requests() const;
  size_t request_count() const;
  void clear_requests();
  // Requests whose path starts with `prefix` (and method matches when not empty).
  std::vector<LoggedRequest> requests_to(const std::string& prefix, const std::string& method = "") const;

 private:
  struct File {
    std::string content;
    bool lfs = false;
    std::string etag;          // git-sha-like (regular) or sha256-like (LFS)
    std::string pointer_etag;  // LFS only: ETag of the pointer file
  };
  struct Repo {
    std::map<std::string, std::string> refs;                         // branch/tag -> commit
    std::map<std::string, std::map<std::string, File>> commits;      // commit -> files
    std::string token;
    bool gated = false;
  };
  struct Response {
    int status = 200;
    std::string reason = "OK";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool head = false;
    size_t cut_after = std::string::npos;  // close after this many body bytes
    int delay_ms = 0;
  };

  void serve();
  void handle(int fd);
  Response route(const LoggedRequest& req);
  Response resolve(const LoggedRequest& req, const std::string& repo, const std::string& rev, const std::string& file);
  Response api(const LoggedRequest& req, const std::string& repo, const std::string& rev);
  Response cdn(const LoggedRequest& req, const std::string& etag);
  // 401/404 answer when the request cannot see the repo/revision; sets *commit otherwise.
  bool check_repo(const LoggedRequest& req, const std::string& repo, const std::string& rev, std::string* commit,
                  Response* err);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  mutable std::mutex mu_;  // everything below
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::string> renames_;
  std::vector<LoggedRequest> log_;
  std::string lfs_host_ = "127.0.0.1";
  int cuts_left_ = 0;
  size_t cut_after_ = 0;
  std::atomic<bool> api_enabled_{true};
  std::atomic<int> cdn_delay_ms_{0};
  uint64_t counter_ = 0;
};

}  // namespace xfmr::test
