// The HuggingFace Hub: model ids -> local folders, through the cache layout Python's huggingface_hub
// uses, so models downloaded by Python transformers are used as they are (and vice versa).
//
// A model argument is either a local folder (used as is) or a hub id `org/name` / `name`, optionally
// followed by `@revision` (a branch, a tag, `refs/pr/N` or a full 40-hex commit hash). Hub files
// live in the cache (see docs/hub.md):
//
//   <cache>/models--org--name/refs/<revision>            the commit a branch/tag last resolved to
//   <cache>/models--org--name/blobs/<etag>               file contents, named by their ETag
//   <cache>/models--org--name/snapshots/<commit>/<file>  relative symlinks to ../../blobs/<etag>
//   <cache>/models--org--name/.no_exist/<commit>/<file>  empty marker: the file is not in the repo
//
// <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. Lookups are cache-first: a file already in the snapshot of the
// requested revision is returned without any network access (unlike Python, which revalidates
// branches online; set HubOptions::refresh for that). Missing files are downloaded over HTTP(S)
// from $HF_ENDPOINT (default https://huggingface.co) with $HF_TOKEN, resumably, under a file lock.
// With HF_HUB_OFFLINE=1 (or true/yes/on) nothing ever touches the network.
//
// Every failure throws xfmr::io::HubError (an xfmr::Error) naming the repo, the file, the URL or the
// cache folder, and what to do about it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xfmr/core/error.h"

namespace xfmr::io {

enum class HubErrorKind {
  InvalidArgument,   // malformed repo id, revision or file name
  RepoNotFound,      // 404 RepoNotFound (or 401 without a token: private / gated / missing)
  RevisionNotFound,  // 404 RevisionNotFound
  EntryNotFound,     // 404 EntryNotFound: the repo exists but not the file
  Unauthorized,      // 401: a token is needed (or the given one is invalid)
  Forbidden,         // 403: the token lacks access (gated repo whose conditions were not accepted)
  Network,           // no connection, timeout, TLS/proxy error, interrupted transfer
  Http,              // any other HTTP status (e.g. 5xx), or a response that is not the hub's
  Offline,           // offline mode and the file is not in the cache
  Unsupported,       // e.g. the repo has only pytorch_model.bin (xfmr loads safetensors only)
  Cache,             // the cache folder cannot be written or is inconsistent
};

class HubError : public Error {
 public:
  HubError(HubErrorKind kind, const std::string& message, long http_status = 0)
      : Error(message), kind_(kind), http_status_(http_status) {}
  HubErrorKind kind() const { return kind_; }
  long http_status() const { return http_status_; }  // 0 when no HTTP response was involved

 private:
  HubErrorKind kind_;
  long http_status_;
};

enum class HubProgress {
  Auto,   // a bar on stderr when it is a TTY, plain periodic lines otherwise ($HF_HUB_DISABLE_PROGRESS_BARS=1: none)
  Bar,    // always the redrawn bar
  Lines,  // always plain lines
  Quiet,  // nothing on stderr (errors are still thrown)
};

struct DownloadProgress {
  std::string repo_id;
  std::string filename;
  uint64_t downloaded = 0;  // bytes in the local file so far (includes resumed bytes)
  uint64_t total = 0;       // expected size (0 when unknown)
  uint64_t resumed_from = 0;
  bool done = false;
};

struct HubOptions {
  // Base URL; empty: $HF_ENDPOINT, else https://huggingface.co (a trailing '/' is ignored).
  std::string endpoint;
  // Bearer token; unset: $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else the file written by
  // `huggingface-cli login` ($HF_TOKEN_PATH or $HF_HOME/token); none of those when
  // $HF_HUB_DISABLE_IMPLICIT_TOKEN is true. An empty string sends no token.
  std::optional<std::string> token;
  // Unset: $HF_HUB_OFFLINE (or the legacy $TRANSFORMERS_OFFLINE) is 1/true/yes/on.
  std::optional<bool> offline;
  // Empty: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.
  std::filesystem::path cache_dir;
  HubProgress progress = HubProgress::Auto;
  // Called as bytes arrive (at most ~10 times a second, plus once with done = true); replaces the
  // built-in bar/lines when set.
  std::function<void(const DownloadProgress&)> on_progress;
  // hub_file only: a file that does not exist in the repo gives an empty path instead of an error
  // (and a .no_exist marker is recorded, as huggingface_hub does, so the next lookup is offline).
  // In offline mode a missing optional file that is not in the cache also gives an empty path.
  bool allow_missing = false;
  // Revalidate branch/tag revisions online (one HEAD per file) even when the cache has them, like
  // Python does; if the hub cannot be reached the cached snapshot is used with a warning.
  bool refresh = false;
  // Seconds; <= 0: $HF_HUB_ETAG_TIMEOUT / $HF_HUB_DOWNLOAD_TIMEOUT, else 10. The metadata timeout
  // bounds each HEAD/API request; the download timeout is the longest stall (no bytes) tolerated.
  double metadata_timeout = 0;
  double download_timeout = 0;
  // A transfer cut mid-way is resumed (Range request) up to this many times in a row without progress.
  int max_retries = 5;
};

// --- Naming and configuration -------------------------------------------------------------------

struct ModelRef {
  std::string repo_id;   // "org/name" or "name"
  std::string revision;  // "main" when not given
};

// Validates a repo id like huggingface_hub: "name" or "namespace/name", [A-Za-z0-9_.-], each part
// starting and ending with a letter, digit or '_', the name at most 96 characters, no "--" or "..",
// not ending in ".git". Throws HubError(InvalidArgument) explaining the rule that was broken.
void validate_repo_id(const std::string& repo_id);
// Splits "org/name@revision" (the revision defaults to "main") and validates both parts.
ModelRef parse_model_id(const std::string& id);
// "models--org--name", the repo's folder inside the cache.
std::string repo_folder_name(const std::string& repo_id);
// The effective settings (options first, then the environment, then the defaults).
std::filesystem::path hub_cache_dir(const HubOptions& opts = {});
std::string hub_endpoint(const HubOptions& opts = {});
bool hub_offline(const HubOptions& opts = {});
// True for 1/true/yes/on in any case (huggingface_hub's _is_true).
bool env_flag_is_true(const char* value);

// --- Files --------------------------------------------------------------------------------------

enum class CacheStatus { Found, NotCached, KnownMissing };
struct CachedFile {
  CacheStatus status = CacheStatus::NotCached;
  std::filesystem::path path;  // set when Found
  std::string commit;          // the commit the revision resolved to locally (may be empty)
};
// Looks a file up in the cache only (huggingface_hub's try_to_load_from_cache): `revision` is a
// commit hash or a name resolved through refs/. Never touches the network.
CachedFile lookup_cached_file(const std::string& repo_id, const std::string& filename,
                              const std::string& revision = "main", const HubOptions& opts = {});

// The local path of one file of a repo: the snapshot entry in the cache, downloaded first when
// missing. Returns an empty path only when opts.allow_missing and the file does not exist.
std::filesystem::path hub_file(const std::string& repo_id, const std::string& filename,
                               const std::string& revision = "main", const HubOptions& opts = {});

// --- Models -------------------------------------------------------------------------------------

struct ModelSnapshot {
  std::filesystem::path dir;        // <cache>/models--org--name/snapshots/<commit>
  std::string repo_id, revision, commit;
  std::vector<std::string> files;   // files of the model present in `dir` (relative names)
  std::vector<std::string> downloaded;  // the subset fetched by this call
  uint64_t downloaded_bytes = 0;
  bool used_api = false;            // the file list came from /api/models/{repo}/revision/{rev}
};

// The files xfmr looks for besides config.json and the safetensors weights.
const std::vector<std::string>& optional_model_files();

// Makes sure the snapshot of `revision` holds what a model needs and returns it:
//  - config.json (required);
//  - the weights: model.safetensors, else model.safetensors.index.json and every shard it lists
//    (a repo with only pytorch_model.bin / *.h5 / *.msgpack weights is an Unsupported error);
//  - the optional tokenizer / generation files of optional_model_files() that the repo has.
// A snapshot that already has config.json and complete weights is returned without network access
// (unless opts.refresh). Otherwise, online, the file list comes from the hub API
// (/api/models/{repo}/revision/{rev}: `sha` + `siblings`); when the endpoint has no such API (a 404
// without the hub's X-Error-Code, or a non-JSON answer) the known names are tried one by one and
// the missing ones recorded in .no_exist/. Every file is fetched at the same commit.
ModelSnapshot download_model(const std::string& repo_id, const std::string& revision = "main",
                             const HubOptions& opts = {});

// A model argument -> local folder: an existing directory is returned as is; anything else must be
// a hub id ("org/name[@revision]") and is resolved with download_model().
std::filesystem::path resolve_model(const std::string& id_or_path, const HubOptions& opts = {});

}  // namespace xfmr::io
