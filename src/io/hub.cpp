// Hub ids -> files in the huggingface_hub cache, downloading what is missing. The protocol follows
// huggingface_hub's file_download.py: a HEAD on {endpoint}/{repo}/resolve/{revision}/{file} without
// following redirects (relative ones, used for renamed repos, are followed) gives X-Repo-Commit, the
// ETag (X-Linked-Etag for LFS files, whose 302 points to a CDN), the size (X-Linked-Size or
// Content-Length) and the Location to GET; the GET streams into blobs/<etag>.incomplete (resumed
// with Range: bytes=N-), which is renamed to blobs/<etag> and linked from snapshots/<commit>/<file>.
#include "xfmr/io/hub.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "io/hub_cache.h"
#include "io/hub_http.h"
#include "io/hub_progress.h"

namespace xfmr::io {

using namespace hub_detail;
namespace fs = std::filesystem;

namespace {

constexpr const char* kDefaultEndpoint = "https://huggingface.co";

std::string env_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

double env_seconds(const char* name, double fallback) {
  std::string v = env_str(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  return (end != v.c_str() && d > 0) ? d : fallback;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

[[noreturn]] void fail(HubErrorKind kind, const std::string& msg, long status = 0) { throw HubError(kind, msg, status); }

fs::path hf_home() {
  if (std::string h = env_str("HF_HOME"); !h.empty()) return expand_user(h);
  if (std::string x = env_str("XDG_CACHE_HOME"); !x.empty()) return expand_user(x) / "huggingface";
  return expand_user("~/.cache/huggingface");
}

struct Token {
  std::string value;   // "" = none
  std::string source;  // for messages: "--token", "HF_TOKEN", a file path
};

Token resolve_token(const HubOptions& o) {
  Token t;
  if (o.token) {
    t.value = trim(*o.token);
    t.source = "--token (HubOptions::token)";
  } else if (!env_flag_is_true(std::getenv("HF_HUB_DISABLE_IMPLICIT_TOKEN"))) {
    if (std::string v = trim(env_str("HF_TOKEN")); !v.empty()) {
      t = {v, "HF_TOKEN"};
    } else if (std::string v2 = trim(env_str("HUGGING_FACE_HUB_TOKEN")); !v2.empty()) {
      t = {v2, "HUGGING_FACE_HUB_TOKEN"};
    } else {
      std::string path_env = env_str("HF_TOKEN_PATH");
      fs::path p = path_env.empty() ? hf_home() / "token" : expand_user(path_env);
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) {
        try {
          std::string v3 = trim(read_text_file(p));
          if (!v3.empty()) t = {v3, p.string()};
        } catch (const Error&) {
        }
      }
    }
  }
  for (char c : t.value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail(HubErrorKind::InvalidArgument, "hub: the token from " + t.source + " contains control characters");
  return t;
}

// Everything one top-level call needs; the HTTP session is created on first use and never in
// offline mode.
struct Context {
  explicit Context(const HubOptions& o) : opts(o), cache_dir(hub_cache_dir(o)), offline(hub_offline(o)) {
    if (!offline) {  // offline, a bad HF_ENDPOINT or token file does not matter
      endpoint = hub_endpoint(o);
      token = resolve_token(o);
    }
    metadata_timeout = o.metadata_timeout > 0 ? o.metadata_timeout : env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
    download_timeout = o.download_timeout > 0 ? o.download_timeout : env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
  }
  HttpSession& http() {
    // Offline mode must never reach this point; a bug here must not turn into network traffic.
    XFMR_CHECK(!offline, "hub: internal error: network access attempted in offline mode");
    if (!session) session = std::make_unique<HttpSession>();
    return *session;
  }
  std::vector<std::string> auth_headers() const {
    std::vector<std::string> h;
    if (!token.value.empty()) h.push_back("Authorization: Bearer " + token.value);
    return h;
  }

  const HubOptions& opts;
  fs::path cache_dir;
  std::string endpoint;
  bool offline;
  Token token;
  double metadata_timeout = 10, download_timeout = 10;
  std::unique_ptr<HttpSession> session;
  uint64_t downloaded_bytes = 0;
  std::vector<std::string> downloaded_files;
};

std::string resolve_url(const Context& c, const std::string& repo, const std::string& revision, const std::string& file) {
  return c.endpoint + "/" + repo + "/resolve/" + url_quote(revision, false) + "/" + url_quote(file, true);
}

void check_args(const std::string& repo, const std::string& file, const std::string& revision) {
  validate_repo_id(repo);
  if (!is_safe_revision(revision))
    fail(HubErrorKind::InvalidArgument, "hub: invalid revision '" + revision + "' for " + repo +
                                            " (expected a branch, tag or commit hash such as main, v1.0, refs/pr/1)");
  if (!is_safe_relative_file(file))
    fail(HubErrorKind::InvalidArgument, "hub: invalid file name '" + file + "' in " + repo +
                                            " (must be a relative path without '..' components)");
}

std::string offline_hint(const Context& c) {
  return "Check your connection or proxy settings (https_proxy/no_proxy); to use only models already in the cache "
         "set HF_HUB_OFFLINE=1 (cache: " + c.cache_dir.string() + ")";
}

[[noreturn]] void throw_network(const Context& c, const std::string& what, const std::string& url, const HttpResult& r) {
  fail(HubErrorKind::Network, "hub: cannot reach " + c.endpoint + " for " + what + " (" + url + "): " + r.curl_error +
                                  ". " + offline_hint(c));
}

// Turns a non-2xx hub answer into a HubError (EntryNotFound is thrown too; callers that can use it
// check for it before calling this).
[[noreturn]] void throw_http(const Context& c, const HttpResult& r, const std::string& repo, const std::string& revision,
                             const std::string& what, const std::string& url) {
  const std::string code = r.headers.get("X-Error-Code");
  std::string server_msg = r.headers.get("X-Error-Message");
  const std::string where = " (" + url + ", HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) + ")";
  const std::string token_note =
      c.token.value.empty()
          ? "No token was sent: if you have access, set HF_TOKEN (or pass --token) to a HuggingFace access token."
          : "The token from " + c.token.source + " was sent; check that HF_TOKEN is valid and its account has access.";
  if (code == "GatedRepo")
    fail(r.status == 403 ? HubErrorKind::Forbidden : HubErrorKind::Unauthorized,
         "hub: " + repo + " is a gated model: accept its conditions at " + c.endpoint + "/" + repo +
             " while logged in, then set HF_TOKEN to a token of that account" + where + ". " + token_note,
         r.status);
  if (r.status == 401)
    fail(HubErrorKind::Unauthorized,
         "hub: " + what + ": authentication required: " + repo + " is private, gated or does not exist" + where + ". " +
             token_note,
         r.status);
  if (r.status == 403)
    fail(HubErrorKind::Forbidden,
         "hub: " + what + ": access to " + repo + " is forbidden" + where +
             (server_msg.empty() ? "" : ": " + server_msg) + ". " + token_note,
         r.status);
  if (code == "RepoNotFound" || code == "RepositoryNotFound")
    fail(HubErrorKind::RepoNotFound,
         "hub: repository '" + repo + "' not found on " + c.endpoint + where +
             ". Check the model id; if the repo is private or gated, set HF_TOKEN.",
         r.status);
  if (code == "RevisionNotFound")
    fail(HubErrorKind::RevisionNotFound,
         "hub: revision '" + revision + "' not found in " + repo + where + ". Use a branch, tag or full commit hash.",
         r.status);
  if (code == "EntryNotFound" || r.status == 404)
    fail(HubErrorKind::EntryNotFound,
         "hub: " + what + " not found" + where +
             (code.empty() ? ": the repository, the revision or the file does not exist" : ""),
         r.status);
  std::string body_hint;
  if (server_msg.empty() && !r.body.empty() && r.body.size() < 300) server_msg = trim(r.body);
  if (!server_msg.empty()) body_hint = ": " + server_msg;
  fail(HubErrorKind::Http,
       "hub: " + what + ": unexpected answer" + where + body_hint + ". " +
           (r.status >= 500 ? "The hub may be down; retry later. " : "") + offline_hint(c),
       r.status);
}

struct FileMeta {
  std::string commit, etag, location;
  uint64_t size = 0;
};

struct HeadOutcome {
  bool missing = false;        // EntryNotFound (or a bare 404)
  std::string missing_commit;  // X-Repo-Commit of the 404, when given
  HttpResult missing_response;
  std::string url;             // the resolve URL asked
  FileMeta meta;
};

bool parse_u64(const std::string& s, uint64_t* out) {
  std::string t = trim(s);
  if (t.empty()) return false;
  uint64_t v = 0;
  for (char ch : t) {
    if (ch < '0' || ch > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  *out = v;
  return true;
}

// huggingface_hub's get_hf_file_metadata: HEAD without following redirects, except relative ones.
HeadOutcome head_metadata(Context& c, const std::string& repo, const std::string& file, const std::string& revision) {
  HeadOutcome out;
  out.url = resolve_url(c, repo, revision, file);
  const std::string what = "'" + file + "' of " + repo + "@" + revision;
  std::string url = out.url;
  HttpResult r;
  for (int hop = 0;; ++hop) {
    HttpRequest rq;
    rq.method = "HEAD";
    rq.url = url;
    rq.headers = c.auth_headers();
    rq.headers.push_back("Accept-Encoding: identity");  // the real size, not a compressed one
    rq.connect_timeout = c.metadata_timeout;
    rq.total_timeout = c.metadata_timeout;
    r = c.http().fetch(rq);
    if (r.transport_failed()) throw_network(c, what, url, r);
    if (r.status >= 300 && r.status < 400) {
      std::string loc = r.headers.get("Location");
      if (loc.empty() || r.redirect_url.empty())
        fail(HubErrorKind::Http, "hub: " + what + ": redirect without a usable Location (" + url + ", HTTP " +
                                     std::to_string(r.status) + ")");
      if (is_relative_location(loc)) {  // renamed repo etc.: stay on this server
        if (hop >= 10) fail(HubErrorKind::Http, "hub: " + what + ": too many redirects from " + out.url);
        url = r.redirect_url;
        continue;
      }
    }
    break;
  }
  if (r.status >= 200 && r.status < 400) {
    FileMeta& m = out.meta;
    m.commit = trim(r.headers.get("X-Repo-Commit"));
    std::string etag = r.headers.get("X-Linked-Etag");
    if (etag.empty()) etag = r.headers.get("ETag");
    m.etag = normalize_etag(trim(etag));
    std::string size = r.headers.get("X-Linked-Size");
    if (size.empty()) size = r.headers.get("Content-Length");
    m.location = (r.status >= 300) ? r.redirect_url : url;
    if (m.commit.empty())
      fail(HubErrorKind::Http, "hub: " + what + ": the answer from " + url +
                                   " has no X-Repo-Commit header, so it does not come from a HuggingFace hub. Check "
                                   "HF_ENDPOINT (now " + c.endpoint + "), your proxy and firewall settings");
    if (!is_safe_component(m.commit))
      fail(HubErrorKind::Http, "hub: " + what + ": unusable X-Repo-Commit '" + m.commit + "' from " + url);
    if (m.etag.empty())
      fail(HubErrorKind::Http, "hub: " + what + ": the answer from " + url +
                                   " has no ETag, so the file cannot be cached reproducibly");
    if (!is_safe_component(m.etag))
      fail(HubErrorKind::Http, "hub: " + what + ": unusable ETag '" + m.etag + "' from " + url);
    if (!parse_u64(size, &m.size))
      fail(HubErrorKind::Http, "hub: " + what + ": the answer from " + url + " has no X-Linked-Size/Content-Length");
    return out;
  }
  const std::string code = r.headers.get("X-Error-Code");
  if (code == "EntryNotFound" || (r.status == 404 && code.empty())) {
    out.missing = true;
    std::string commit = trim(r.headers.get("X-Repo-Commit"));
    if (is_safe_component(commit)) out.missing_commit = commit;
    out.missing_response = r;
    return out;
  }
  throw_http(c, r, repo, revision, what, url);
}

bool same_origin(const std::string& a, const std::string& b) {
  std::string oa = url_origin(a), ob = url_origin(b);
  return !oa.empty() && oa == ob;
}

// Empties a partial file that cannot be resumed (a failure here only costs a restart later).
void discard_contents(int fd) {
  if (::ftruncate(fd, 0) != 0) return;
}

// Streams m.location into blobs/<etag>.incomplete (resuming it) and renames it to blobs/<etag>.
// The caller holds the lock.
void download_blob(Context& c, const std::string& repo, const std::string& file, const std::string& resolve_url_asked,
                   const FileMeta& m, const fs::path& blob) {
  std::error_code ec;
  fs::create_directories(blob.parent_path(), ec);
  if (ec) fail(HubErrorKind::Cache, "hub cache: cannot create " + blob.parent_path().string() + ": " + ec.message());
  const fs::path incomplete = blob.string() + ".incomplete";
  int fd = ::open(incomplete.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);  // umask applies, as for Python
  if (fd < 0)
    fail(HubErrorKind::Cache, "hub cache: cannot open " + incomplete.string() + ": " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    fail(HubErrorKind::Cache, "hub cache: cannot stat " + incomplete.string() + ": " + std::strerror(errno));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > m.size) {  // not a prefix of this blob
    if (::ftruncate(fd, 0) != 0)
      fail(HubErrorKind::Cache, "hub cache: cannot truncate " + incomplete.string() + ": " + std::strerror(errno));
    size = 0;
  }
  const uint64_t resumed_from = size;

  HttpRequest rq;
  rq.method = "GET";
  rq.url = m.location;
  // A Location on another host is a signed CDN URL: the token stays with the hub (huggingface_hub
  // drops it the same way). curl itself never forwards it across hosts on further redirects.
  if (same_origin(resolve_url_asked, m.location)) rq.headers = c.auth_headers();
  rq.follow_redirects = true;
  rq.connect_timeout = c.metadata_timeout;
  rq.stall_timeout = c.download_timeout;

  ProgressReporter progress(c.opts, repo, file, m.size, size);
  int retries_left = c.opts.max_retries;
  const std::string what = "'" + file + "' of " + repo;
  while (size < m.size) {
    DownloadResult d = c.http().download(rq, fd, size, [&](uint64_t n) { progress.update(n); });
    const HttpResult& r = d.http;
    if (!d.range_error.empty()) {
      progress.finish(false);
      fail(HubErrorKind::Http, "hub: downloading " + what + " from " + m.location + ": " + d.range_error);
    }
    if (!d.write_error.empty()) {
      progress.finish(false);
      fail(HubErrorKind::Cache, "hub cache: cannot write " + incomplete.string() + ": " + d.write_error);
    }
    if (r.transport_failed() || (r.status >= 200 && r.status < 300)) {
      const uint64_t before = d.restarted ? 0 : size;
      size = d.file_size;
      if (size > m.size) {
        progress.finish(false);
        discard_contents(fd);
        fail(HubErrorKind::Http, "hub: consistency check failed for " + what + ": expected " + std::to_string(m.size) +
                                     " bytes, received more from " + m.location + "; the partial file was discarded, retry");
      }
      if (size == m.size) break;
      // Cut short (connection reset, timeout, or a clean close before the end): resume, up to
      // max_retries times in a row; receiving data renews the allowance (as huggingface_hub does).
      if (size > before) retries_left = c.opts.max_retries;
      if (retries_left-- <= 0) {
        progress.finish(false);
        std::string why = r.transport_failed() ? r.curl_error : "the server closed the connection early";
        fail(HubErrorKind::Network, "hub: download of " + what + " from " + m.location + " interrupted at " +
                                        std::to_string(size) + " of " + std::to_string(m.size) + " bytes: " + why +
                                        ". The partial file " + incomplete.string() +
                                        " is kept: run the same command again to resume. " + offline_hint(c));
      }
      if (size <= before) std::this_thread::sleep_for(std::chrono::milliseconds(200 * (c.opts.max_retries - retries_left)));
      continue;
    }
    if (r.status == 416) {  // our partial file does not fit the remote one: start over
      discard_contents(fd);
      size = 0;
      if (retries_left-- <= 0) {
        progress.finish(false);
        throw_http(c, r, repo, "", what, m.location);
      }
      continue;
    }
    progress.finish(false);
    throw_http(c, r, repo, "", what, m.location);
  }
  if (::fdatasync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    progress.finish(false);
    fail(HubErrorKind::Cache, "hub cache: cannot flush " + incomplete.string() + ": " + std::strerror(errno));
  }
  progress.finish(true);
  fs::rename(incomplete, blob, ec);
  if (ec) fail(HubErrorKind::Cache, "hub cache: cannot move " + incomplete.string() + " to " + blob.string() + ": " + ec.message());
  c.downloaded_bytes += m.size - resumed_from;
  c.downloaded_files.push_back(file);
}

struct FileResult {
  fs::path path;       // empty: missing and allowed to be
  std::string commit;  // the commit the file (or its absence) belongs to, when known
};

bool exists_nothrow(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

FileResult hub_file_impl(Context& c, const std::string& repo, const std::string& file, const std::string& revision,
                         bool allow_missing) {
  check_args(repo, file, revision);
  RepoCache rc(c.cache_dir, repo);
  const bool immutable = is_commit_hash(revision);

  auto from_cache = [&]() -> std::optional<FileResult> {
    auto commit = rc.local_commit(revision);
    if (!commit) return std::nullopt;
    fs::path ptr = rc.pointer_path(*commit, file);
    if (exists_nothrow(ptr)) return FileResult{ptr, *commit};
    if (allow_missing && exists_nothrow(rc.no_exist_path(*commit, file))) return FileResult{{}, *commit};
    return std::nullopt;
  };

  if (!c.opts.refresh || immutable || c.offline) {
    if (auto hit = from_cache()) return *hit;
  }
  if (c.offline) {
    if (allow_missing) return FileResult{{}, rc.local_commit(revision).value_or("")};
    auto commit = rc.local_commit(revision);
    std::string detail = commit ? "snapshot " + rc.snapshot_dir(*commit).string() + " has no '" + file + "'"
                                : "no snapshot of revision '" + revision + "' (" +
                                      (immutable ? rc.snapshot_dir(revision).string() : rc.ref_path(revision).string()) +
                                      " does not exist)";
    fail(HubErrorKind::Offline, "hub: offline mode (HF_HUB_OFFLINE): '" + file + "' of " + repo + "@" + revision +
                                    " is not in the cache " + c.cache_dir.string() + ": " + detail +
                                    ". Download it first with network access (xfmr download " + repo +
                                    (revision == "main" ? "" : "@" + revision) + ") or unset HF_HUB_OFFLINE");
  }

  HeadOutcome h;
  try {
    h = head_metadata(c, repo, file, revision);
  } catch (const HubError& e) {
    // Refreshing is best effort: when the hub cannot be reached the cached copy is still good.
    if (c.opts.refresh && (e.kind() == HubErrorKind::Network || (e.kind() == HubErrorKind::Http && e.http_status() >= 500))) {
      if (auto hit = from_cache()) {
        hub_note(c.opts, std::string("warning: could not check ") + repo + " for updates; using the cached copy (" +
                             e.what() + ")");
        return *hit;
      }
    }
    throw;
  }
  if (h.missing) {
    if (!h.missing_commit.empty()) {
      rc.mark_missing(h.missing_commit, file);
      rc.write_ref(revision, h.missing_commit);
    }
    if (allow_missing) return FileResult{{}, h.missing_commit};
    throw_http(c, h.missing_response, repo, revision, "'" + file + "' of " + repo + "@" + revision, h.url);
  }
  const FileMeta& m = h.meta;
  rc.write_ref(revision, m.commit);
  fs::path ptr = rc.pointer_path(m.commit, file);
  if (exists_nothrow(ptr)) return FileResult{ptr, m.commit};
  fs::path blob = rc.blob_path(m.etag);
  if (!exists_nothrow(blob)) {
    FileLock lock(rc.lock_path(m.etag), c.opts.progress == HubProgress::Quiet
                                            ? std::string()
                                            : "xfmr: waiting for another process to finish downloading " + file);
    if (!exists_nothrow(blob)) download_blob(c, repo, file, h.url, m, blob);
  }
  rc.link_pointer(m.commit, file, m.etag);
  return FileResult{ptr, m.commit};
}

// --- models ---------------------------------------------------------------------------------------

const char* const kConfig = "config.json";
const char* const kSingle = "model.safetensors";
const char* const kIndex = "model.safetensors.index.json";
const char* const kUnsupportedWeights[] = {"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5",
                                           "tf_model.h5.index.json", "flax_model.msgpack", "flax_model.msgpack.index.json"};

// The shard names listed by an index file (in first-appearance order), validated.
std::vector<std::string> index_shards(const fs::path& index, const std::string& repo) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(index));
  } catch (const nlohmann::json::exception& e) {
    fail(HubErrorKind::Http, "hub: " + repo + ": " + index.string() + " is not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(HubErrorKind::Http, "hub: " + repo + ": " + index.string() + " has no \"weight_map\" object");
  std::vector<std::string> shards;
  std::set<std::string> seen;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      fail(HubErrorKind::Http, "hub: " + repo + ": " + index.string() + ": weight_map['" + it.key() + "'] is not a string");
    std::string s = it.value().get<std::string>();
    if (!is_safe_relative_file(s))
      fail(HubErrorKind::Http, "hub: " + repo + ": " + index.string() + " lists an invalid shard name '" + s + "'");
    if (seen.insert(s).second) shards.push_back(s);
  }
  if (shards.empty()) fail(HubErrorKind::Http, "hub: " + repo + ": " + index.string() + " lists no shards");
  return shards;
}

std::string unsupported_message(const std::string& repo, const std::string& revision, const std::string& found) {
  return "hub: " + repo + "@" + revision + " has no safetensors weights (" + kSingle + " or " + kIndex + "), only " +
         found + ": xfmr loads safetensors only. Use a revision that has them (the hub's safetensors conversion bot "
         "often opened a pull request: try " + repo + "@refs/pr/N), or convert the checkpoint with Python "
         "(model.save_pretrained(dir, safe_serialization=True)) and pass the folder";
}

struct CacheCheck {
  bool complete = false;
  std::string missing;      // what is missing, for messages
  std::string unsupported;  // the snapshot has these non-safetensors weights instead
};

CacheCheck check_cached_model(const RepoCache& rc, const std::string& commit, const std::string& repo,
                              const std::string& revision) {
  CacheCheck cc;
  fs::path dir = rc.snapshot_dir(commit);
  if (!exists_nothrow(dir / kConfig)) {
    cc.missing = std::string(kConfig);
    return cc;
  }
  if (exists_nothrow(dir / kSingle)) {
    cc.complete = true;
    return cc;
  }
  if (exists_nothrow(dir / kIndex)) {
    std::vector<std::string> shards;
    try {
      shards = index_shards(dir / kIndex, repo);
    } catch (const HubError& e) {
      cc.missing = std::string("a valid ") + kIndex + " (" + e.what() + ")";
      return cc;
    }
    for (const auto& s : shards)
      if (!exists_nothrow(dir / s)) {
        cc.missing = "the shard " + s;
        return cc;
      }
    cc.complete = true;
    return cc;
  }
  (void)revision;
  for (const char* u : kUnsupportedWeights)
    if (exists_nothrow(dir / u)) {
      cc.unsupported = u;
      break;
    }
  cc.missing = std::string(kSingle);
  return cc;
}

void fill_snapshot(ModelSnapshot& s, const RepoCache& rc, const Context& c) {
  s.dir = rc.snapshot_dir(s.commit);
  s.files.clear();
  auto add = [&](const std::string& f) {
    if (exists_nothrow(s.dir / f) && std::find(s.files.begin(), s.files.end(), f) == s.files.end()) s.files.push_back(f);
  };
  add(kConfig);
  if (exists_nothrow(s.dir / kSingle)) {
    add(kSingle);
  } else if (exists_nothrow(s.dir / kIndex)) {
    add(kIndex);
    for (const auto& sh : index_shards(s.dir / kIndex, s.repo_id)) add(sh);
  }
  for (const auto& f : optional_model_files()) add(f);
  s.downloaded = c.downloaded_files;
  s.downloaded_bytes = c.downloaded_bytes;
}

struct ApiInfo {
  std::string sha;
  std::set<std::string> siblings;
};

// GET /api/models/{repo}/revision/{rev}. Returns false when the endpoint has no such API (a mirror
// serving only /resolve/): a 404 without the hub's X-Error-Code, 405, 501, or a body that is not
// the model-info JSON. Repo/revision/auth errors are thrown.
bool fetch_model_info(Context& c, const std::string& repo, const std::string& revision, ApiInfo* info) {
  const std::string url = c.endpoint + "/api/models/" + repo + "/revision/" + url_quote(revision, false);
  HttpRequest rq;
  rq.url = url;
  rq.headers = c.auth_headers();
  rq.headers.push_back("Accept: application/json");
  rq.follow_redirects = true;
  rq.connect_timeout = c.metadata_timeout;
  rq.total_timeout = std::max(c.metadata_timeout, 30.0);
  HttpResult r = c.http().fetch(rq);
  const std::string what = "the file list of " + repo + "@" + revision;
  if (r.transport_failed()) throw_network(c, what, url, r);
  const std::string code = r.headers.get("X-Error-Code");
  if (r.status == 200) {
    try {
      auto j = nlohmann::json::parse(r.body);
      if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string() || !j.contains("siblings") ||
          !j["siblings"].is_array())
        return false;
      info->sha = j["sha"].get<std::string>();
      if (!is_safe_component(info->sha)) return false;
      for (const auto& s : j["siblings"])
        if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string())
          info->siblings.insert(s["rfilename"].get<std::string>());
      return true;
    } catch (const nlohmann::json::exception&) {
      return false;
    }
  }
  if ((r.status == 404 && code.empty()) || r.status == 405 || r.status == 501) return false;
  throw_http(c, r, repo, revision, what, url);
}

void download_online(Context& c, ModelSnapshot& s, RepoCache& rc) {
  const std::string& repo = s.repo_id;
  ApiInfo info;
  s.used_api = fetch_model_info(c, repo, s.revision, &info);
  if (s.used_api) {
    s.commit = info.sha;
    rc.write_ref(s.revision, s.commit);
    const auto& sib = info.siblings;
    if (!sib.count(kConfig))
      fail(HubErrorKind::EntryNotFound, "hub: " + repo + "@" + s.revision + " has no " + kConfig +
                                            " (according to " + c.endpoint + "/api/models/" + repo +
                                            "): it is not a transformers model repository");
    hub_file_impl(c, repo, kConfig, s.commit, false);
    if (sib.count(kSingle)) {
      hub_file_impl(c, repo, kSingle, s.commit, false);
    } else if (sib.count(kIndex)) {
      FileResult idx = hub_file_impl(c, repo, kIndex, s.commit, false);
      for (const auto& shard : index_shards(idx.path, repo)) hub_file_impl(c, repo, shard, s.commit, false);
    } else {
      for (const char* u : kUnsupportedWeights)
        if (sib.count(u)) fail(HubErrorKind::Unsupported, unsupported_message(repo, s.revision, u));
      fail(HubErrorKind::EntryNotFound, "hub: " + repo + "@" + s.revision + " has no weights (" + kSingle + " or " +
                                            kIndex + ")");
    }
    for (const auto& f : optional_model_files()) {
      if (sib.count(f)) hub_file_impl(c, repo, f, s.commit, true);  // listed: a 404 would be the hub's glitch
      else rc.mark_missing(s.commit, f);  // the listing of this commit is authoritative: remember the absence
    }
    return;
  }
  // No listing API: try the names one by one, at the commit config.json resolved to.
  FileResult cfg = hub_file_impl(c, repo, kConfig, s.revision, false);
  s.commit = cfg.commit;
  FileResult single = hub_file_impl(c, repo, kSingle, s.commit, true);
  if (single.path.empty()) {
    FileResult idx = hub_file_impl(c, repo, kIndex, s.commit, true);
    if (idx.path.empty()) {
      for (const char* u : kUnsupportedWeights) {
        HeadOutcome h = head_metadata(c, repo, u, s.commit);
        if (!h.missing) fail(HubErrorKind::Unsupported, unsupported_message(repo, s.revision, u));
      }
      fail(HubErrorKind::EntryNotFound, "hub: " + repo + "@" + s.revision + " has no weights (" + kSingle + " or " +
                                            kIndex + " not found at " + resolve_url(c, repo, s.commit, kSingle) + ")");
    }
    for (const auto& shard : index_shards(idx.path, repo)) hub_file_impl(c, repo, shard, s.commit, false);
  }
  for (const auto& f : optional_model_files()) hub_file_impl(c, repo, f, s.commit, true);
}

}  // namespace

// --- public API -------------------------------------------------------------------------------------

bool env_flag_is_true(const char* value) {
  if (!value) return false;
  std::string v = trim(value);
  for (char& ch : v) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

void validate_repo_id(const std::string& repo_id) {
  auto bad = [&](const std::string& why) {
    fail(HubErrorKind::InvalidArgument, "hub: invalid model id '" + repo_id + "': " + why);
  };
  if (repo_id.empty()) bad("it is empty");
  if (std::count(repo_id.begin(), repo_id.end(), '/') > 1)
    bad("expected 'name' or 'namespace/name' (with at most one '/')");
  auto word = [](unsigned char ch) { return std::isalnum(ch) || ch == '_'; };
  auto check_part = [&](const std::string& part, const char* label, size_t max_len) {
    if (part.empty()) bad(std::string("the ") + label + " is empty");
    if (part.size() > max_len) bad(std::string("the ") + label + " is longer than " + std::to_string(max_len) + " characters");
    for (unsigned char ch : part)
      if (!(word(ch) || ch == '-' || ch == '.'))
        bad(std::string("the ") + label + " may only use letters, digits, '-', '_' and '.'");
    if (!word(static_cast<unsigned char>(part.front())) || !word(static_cast<unsigned char>(part.back())))
      bad(std::string("the ") + label + " cannot start or end with '-' or '.'");
  };
  size_t slash = repo_id.find('/');
  if (slash != std::string::npos) {
    check_part(repo_id.substr(0, slash), "namespace", 1000);
    check_part(repo_id.substr(slash + 1), "name", 96);
  } else {
    check_part(repo_id, "name", 96);
  }
  if (repo_id.find("--") != std::string::npos || repo_id.find("..") != std::string::npos)
    bad("'--' and '..' are not allowed");
  if (repo_id.size() >= 4 && repo_id.compare(repo_id.size() - 4, 4, ".git") == 0) bad("it cannot end with '.git'");
}

ModelRef parse_model_id(const std::string& id) {
  ModelRef ref;
  size_t at = id.find('@');
  ref.repo_id = id.substr(0, at);
  ref.revision = "main";
  if (at != std::string::npos) {
    ref.revision = id.substr(at + 1);
    if (ref.revision.empty())
      fail(HubErrorKind::InvalidArgument, "hub: invalid model id '" + id + "': nothing after '@' (expected a revision)");
  }
  validate_repo_id(ref.repo_id);
  if (!is_safe_revision(ref.revision))
    fail(HubErrorKind::InvalidArgument, "hub: invalid revision '" + ref.revision + "' in '" + id +
                                            "' (expected a branch, tag or commit hash such as main, v1.0, refs/pr/1)");
  return ref;
}

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "models";
  size_t begin = 0;
  while (true) {
    size_t slash = repo_id.find('/', begin);
    out += "--" + repo_id.substr(begin, slash == std::string::npos ? std::string::npos : slash - begin);
    if (slash == std::string::npos) break;
    begin = slash + 1;
  }
  return out;
}

fs::path hub_cache_dir(const HubOptions& opts) {
  if (!opts.cache_dir.empty()) return expand_user(opts.cache_dir.string());
  if (std::string v = env_str("HF_HUB_CACHE"); !v.empty()) return expand_user(v);
  if (std::string v = env_str("HUGGINGFACE_HUB_CACHE"); !v.empty()) return expand_user(v);
  return hf_home() / "hub";
}

std::string hub_endpoint(const HubOptions& opts) {
  std::string e = !opts.endpoint.empty() ? opts.endpoint : env_str("HF_ENDPOINT");
  if (e.empty()) e = kDefaultEndpoint;
  while (!e.empty() && e.back() == '/') e.pop_back();
  if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
    fail(HubErrorKind::InvalidArgument, "hub: endpoint '" + e + "' must start with https:// or http:// (HF_ENDPOINT)");
  return e;
}

bool hub_offline(const HubOptions& opts) {
  if (opts.offline) return *opts.offline;
  const char* v = std::getenv("HF_HUB_OFFLINE");
  if (v && *v) return env_flag_is_true(v);
  return env_flag_is_true(std::getenv("TRANSFORMERS_OFFLINE"));
}

CachedFile lookup_cached_file(const std::string& repo_id, const std::string& filename, const std::string& revision,
                              const HubOptions& opts) {
  check_args(repo_id, filename, revision);
  RepoCache rc(hub_cache_dir(opts), repo_id);
  CachedFile out;
  auto commit = rc.local_commit(revision);
  if (!commit) return out;
  out.commit = *commit;
  if (exists_nothrow(rc.no_exist_path(*commit, filename))) {
    out.status = CacheStatus::KnownMissing;
    return out;
  }
  fs::path ptr = rc.pointer_path(*commit, filename);
  std::error_code ec;
  if (fs::is_regular_file(ptr, ec)) {
    out.status = CacheStatus::Found;
    out.path = ptr;
  }
  return out;
}

fs::path hub_file(const std::string& repo_id, const std::string& filename, const std::string& revision,
                  const HubOptions& opts) {
  Context c(opts);
  return hub_file_impl(c, repo_id, filename, revision, opts.allow_missing).path;
}

const std::vector<std::string>& optional_model_files() {
  static const std::vector<std::string> files = {
      "tokenizer.json",    "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
      "vocab.json",        "merges.txt",            "spiece.model",            "sentencepiece.bpe.model",
      "source.spm",        "target.spm",            "generation_config.json",  "added_tokens.json"};
  return files;
}

ModelSnapshot download_model(const std::string& repo_id, const std::string& revision, const HubOptions& opts) {
  check_args(repo_id, kConfig, revision);
  Context c(opts);
  RepoCache rc(c.cache_dir, repo_id);
  ModelSnapshot s;
  s.repo_id = repo_id;
  s.revision = revision;

  auto cached = [&]() -> bool {
    auto commit = rc.local_commit(revision);
    if (!commit) return false;
    if (!check_cached_model(rc, *commit, repo_id, revision).complete) return false;
    s.commit = *commit;
    return true;
  };

  if (!opts.refresh || c.offline || is_commit_hash(revision)) {
    if (cached()) {
      fill_snapshot(s, rc, c);
      return s;
    }
  }
  if (c.offline) {
    std::string detail;
    if (auto commit = rc.local_commit(revision)) {
      CacheCheck cc = check_cached_model(rc, *commit, repo_id, revision);
      if (!cc.unsupported.empty())
        fail(HubErrorKind::Unsupported, unsupported_message(repo_id, revision, cc.unsupported) + " (cached in " +
                                            rc.snapshot_dir(*commit).string() + ")");
      detail = "the snapshot " + rc.snapshot_dir(*commit).string() + " lacks " + cc.missing;
    } else {
      detail = is_commit_hash(revision) ? "there is no snapshot " + rc.snapshot_dir(revision).string()
                                        : "there is no " + rc.ref_path(revision).string();
    }
    fail(HubErrorKind::Offline, "hub: offline mode (HF_HUB_OFFLINE): " + repo_id + "@" + revision +
                                    " is not in the cache " + c.cache_dir.string() + ": " + detail +
                                    ". Download it first with network access (xfmr download " + repo_id +
                                    (revision == "main" ? "" : "@" + revision) + ") or unset HF_HUB_OFFLINE");
  }
  try {
    download_online(c, s, rc);
  } catch (const HubError& e) {
    if (opts.refresh && (e.kind() == HubErrorKind::Network || (e.kind() == HubErrorKind::Http && e.http_status() >= 500)) &&
        cached()) {
      hub_note(opts, std::string("warning: could not check ") + repo_id + " for updates; using the cached snapshot (" +
                         e.what() + ")");
      fill_snapshot(s, rc, c);
      return s;
    }
    throw;
  }
  fill_snapshot(s, rc, c);
  return s;
}

fs::path resolve_model(const std::string& id_or_path, const HubOptions& opts) {
  if (id_or_path.empty()) fail(HubErrorKind::InvalidArgument, "hub: empty model argument (expected a folder or a hub id)");
  fs::path p = expand_user(id_or_path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return p;
  if (fs::exists(p, ec))
    fail(HubErrorKind::InvalidArgument, "model '" + id_or_path +
                                            "' is a file, not a model folder: pass the folder holding config.json");
  const bool looks_like_path = id_or_path[0] == '/' || id_or_path[0] == '~' || id_or_path.rfind("./", 0) == 0 ||
                               id_or_path.rfind("../", 0) == 0 || id_or_path == "." || id_or_path == ".." ||
                               id_or_path.back() == '/';
  if (looks_like_path)
    fail(HubErrorKind::InvalidArgument, "model folder '" + id_or_path + "' does not exist");
  ModelRef ref;
  try {
    ref = parse_model_id(id_or_path);
  } catch (const HubError& e) {
    fail(HubErrorKind::InvalidArgument, "model '" + id_or_path +
                                            "' is neither an existing folder nor a valid hub id (org/name[@revision]): " +
                                            e.what());
  }
  return download_model(ref.repo_id, ref.revision, opts).dir;
}

}  // namespace xfmr::io
