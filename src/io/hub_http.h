// A small libcurl client for the hub: HEAD / GET into memory, and resumable GET into a file.
// Private to src/io (hub.cpp is its only user).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace xfmr::io::hub_detail {

struct HttpHeaders {
  std::vector<std::pair<std::string, std::string>> items;  // in arrival order, names as sent
  // The value of the first header named `name` (case-insensitive), or "" when absent.
  std::string get(const std::string& name) const;
  bool has(const std::string& name) const;
};

struct HttpRequest {
  std::string method = "GET";        // "GET" or "HEAD"
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool follow_redirects = false;     // curl drops Authorization when a redirect changes host/port
  double connect_timeout = 10;       // seconds
  double total_timeout = 0;          // seconds for the whole request; 0 = none
  double stall_timeout = 0;          // abort when no byte arrives for this long; 0 = never
  size_t max_body = size_t(64) << 20;  // in-memory bodies (and error bodies) are capped here
};

struct HttpResult {
  long status = 0;            // of the last response; 0 when none arrived
  HttpHeaders headers;        // of the last response
  std::string url;            // the URL that answered (after redirects curl followed)
  std::string redirect_url;   // absolute target of a Location header that was not followed
  std::string body;           // in-memory body, or the (capped) body of an error response
  int curl_code = 0;          // CURLcode; 0 = the exchange completed (whatever the status)
  std::string curl_error;     // curl's message when curl_code != 0
  bool transport_failed() const { return curl_code != 0; }
};

// Outcome of streaming a GET into a file.
struct DownloadResult {
  HttpResult http;
  uint64_t file_size = 0;  // size of the file after the transfer (resumed bytes included)
  bool restarted = false;  // a Range request was answered with the whole file (200): written from 0
  std::string range_error; // the server answered 206 for another range than asked (nothing written)
  std::string write_error; // the local file could not be written (disk full, ...)
};

class HttpSession {
 public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // HEAD or GET with the body kept in memory.
  HttpResult fetch(const HttpRequest& req);

  // GET `req.url` appending to the open file `fd` whose current size is `offset`: asks
  // `Range: bytes=offset-` when offset > 0, accepts 206 starting at `offset` or a full 200 (then the
  // file is truncated first). Only 2xx bodies reach the file. `on_bytes(file_size)` is called as data
  // is written.
  DownloadResult download(const HttpRequest& req, int fd, uint64_t offset,
                          const std::function<void(uint64_t)>& on_bytes);

 private:
  void* curl_;  // CURL*
};

// "scheme://host:port" of a URL (lower-cased host, explicit default port), for same-origin checks.
std::string url_origin(const std::string& url);
// True when a Location value has no scheme and no authority ("/path", "path?x"), i.e. it stays on
// the same server (huggingface_hub follows exactly those during its metadata HEAD).
bool is_relative_location(const std::string& location);
// Percent-encodes everything outside [A-Za-z0-9-._~], and also '/' unless keep_slash.
std::string url_quote(const std::string& s, bool keep_slash);

}  // namespace xfmr::io::hub_detail
