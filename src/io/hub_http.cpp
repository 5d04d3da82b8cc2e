#include "io/hub_http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "xfmr/core/error.h"
#include "xfmr/version.h"

namespace xfmr::io::hub_detail {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    XFMR_CHECK(rc == CURLE_OK, "hub: curl_global_init failed: ", curl_easy_strerror(rc));
  });
}

// State shared by the header and body callbacks of one request.
struct Transfer {
  HttpResult* result = nullptr;
  size_t max_body = 0;
  // File mode (download): bodies of 2xx responses go to fd.
  bool to_file = false;
  int fd = -1;
  uint64_t start_offset = 0;  // size of the file before the request
  uint64_t write_pos = 0;
  bool decided = false;       // the first body byte of the final response has been seen
  bool body_to_file = false;
  bool restarted = false;
  std::string range_error;
  int write_errno = 0;
  const std::function<void(uint64_t)>* on_bytes = nullptr;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or a 100 Continue)
    t->result->headers.items.clear();
    t->result->status = 0;
    size_t sp = line.find(' ');
    if (sp != std::string::npos) t->result->status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return len;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos && colon > 0)
    t->result->headers.items.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  return len;
}

// Parses "bytes START-END/TOTAL"; returns false when malformed.
bool parse_content_range(const std::string& v, uint64_t* start) {
  std::string s = lower(trim(v));
  if (s.rfind("bytes", 0) != 0) return false;
  s = trim(s.substr(5));
  char* end = nullptr;
  errno = 0;
  unsigned long long a = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '-') return false;
  *start = a;
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  HttpResult& r = *t->result;
  if (!t->to_file) {
    if (r.body.size() + len > t->max_body) return 0;  // CURLE_WRITE_ERROR: too large
    r.body.append(data, len);
    return len;
  }
  if (!t->decided) {
    t->decided = true;
    if (r.status == 206) {
      uint64_t start = 0;
      std::string cr = r.headers.get("Content-Range");
      if (!parse_content_range(cr, &start) || start != t->start_offset) {
        t->range_error = "asked for bytes " + std::to_string(t->start_offset) + "- but got Content-Range '" + cr + "'";
        return 0;
      }
      t->body_to_file = true;
      t->write_pos = t->start_offset;
    } else if (r.status >= 200 && r.status < 300) {
      t->body_to_file = true;
      if (t->start_offset > 0) {  // the server ignored the Range header: start over
        if (ftruncate(t->fd, 0) != 0) {
          t->write_errno = errno;
          return 0;
        }
        t->restarted = true;
      }
      t->write_pos = 0;
    }
  }
  if (!t->body_to_file) {  // error page: keep a bounded prefix for the message
    if (r.body.size() < 4096) r.body.append(data, std::min(len, 4096 - r.body.size()));
    return len;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(t->fd, data + done, len - done, static_cast<off_t>(t->write_pos));
    if (w < 0) {
      if (errno == EINTR) continue;
      t->write_errno = errno;
      return 0;
    }
    done += static_cast<size_t>(w);
    t->write_pos += static_cast<uint64_t>(w);
  }
  if (t->on_bytes && *t->on_bytes) (*t->on_bytes)(t->write_pos);
  return len;
}

void apply_common(CURL* c, const HttpRequest& req, Transfer* t, curl_slist** hdrs) {
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  // Never CURLOPT_UNRESTRICTED_AUTH: curl keeps Authorization for the original host only.
  static const std::string agent = std::string("xfmr/") + XFMR_VERSION_STRING + "; libcurl/" + curl_version_info(CURLVERSION_NOW)->version;
  curl_easy_setopt(c, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout * 1000));
  if (req.total_timeout > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout * 1000));
  if (req.stall_timeout > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, std::max(1L, static_cast<long>(req.stall_timeout + 0.5)));
  }
  if (req.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  for (const auto& h : req.headers) *hdrs = curl_slist_append(*hdrs, h.c_str());
  if (*hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  // Proxies: libcurl reads http_proxy / https_proxy / all_proxy / no_proxy from the environment.
}

void perform(CURL* c, Transfer& t, char* errbuf) {
  HttpResult& r = *t.result;
  errbuf[0] = 0;
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  r.curl_code = static_cast<int>(rc);
  if (rc != CURLE_OK) r.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  long code = 0;
  if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code != 0) r.status = code;
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) r.url = eff;
  char* redir = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redir) == CURLE_OK && redir) r.redirect_url = redir;
}

}  // namespace

std::string HttpHeaders::get(const std::string& name) const {
  std::string want = lower(name);
  for (const auto& [k, v] : items)
    if (lower(k) == want) return v;
  return "";
}

bool HttpHeaders::has(const std::string& name) const {
  std::string want = lower(name);
  for (const auto& kv : items)
    if (lower(kv.first) == want) return true;
  return false;
}

HttpSession::HttpSession() {
  global_init();
  curl_ = curl_easy_init();
  XFMR_CHECK(curl_ != nullptr, "hub: curl_easy_init failed");
}

HttpSession::~HttpSession() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResult HttpSession::fetch(const HttpRequest& req) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);  // keeps the connection and DNS caches
  HttpResult r;
  Transfer t;
  t.result = &r;
  t.max_body = req.max_body;
  curl_slist* hdrs = nullptr;
  apply_common(c, req, &t, &hdrs);
  char errbuf[CURL_ERROR_SIZE];
  perform(c, t, errbuf);
  curl_slist_free_all(hdrs);
  return r;
}

DownloadResult HttpSession::download(const HttpRequest& req, int fd, uint64_t offset,
                                     const std::function<void(uint64_t)>& on_bytes) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  DownloadResult d;
  Transfer t;
  t.result = &d.http;
  t.to_file = true;
  t.fd = fd;
  t.start_offset = offset;
  t.write_pos = offset;
  t.on_bytes = &on_bytes;
  HttpRequest r = req;
  if (offset > 0) r.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
  curl_slist* hdrs = nullptr;
  apply_common(c, r, &t, &hdrs);
  char errbuf[CURL_ERROR_SIZE];
  perform(c, t, errbuf);
  curl_slist_free_all(hdrs);
  d.restarted = t.restarted;
  d.range_error = t.range_error;
  if (t.write_errno != 0) d.write_error = std::strerror(t.write_errno);
  if (t.body_to_file) {
    d.file_size = t.write_pos;
  } else {
    d.file_size = offset;
  }
  // A 2xx response without any body byte (empty file, or a 206 for 0 bytes) still counts.
  if (!t.decided && d.http.status >= 200 && d.http.status < 300 && d.http.curl_code == 0) {
    if (d.http.status == 200 && offset > 0) {
      if (ftruncate(fd, 0) == 0) {
        d.restarted = true;
        d.file_size = 0;
      }
    }
  }
  return d;
}

std::string url_origin(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string scheme = lower(url.substr(0, scheme_end));
  size_t host_begin = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_begin);
  std::string authority = url.substr(host_begin, host_end == std::string::npos ? std::string::npos : host_end - host_begin);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  authority = lower(authority);
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    has_port = authority.find("]:") != std::string::npos;
  } else {
    has_port = authority.find(':') != std::string::npos;
  }
  if (!has_port) authority += scheme == "https" ? ":443" : scheme == "http" ? ":80" : "";
  return scheme + "://" + authority;
}

bool is_relative_location(const std::string& location) {
  if (location.rfind("//", 0) == 0) return false;  // network-path reference: another host
  size_t colon = location.find(':');
  size_t slash = location.find_first_of("/?#");
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash)) return false;  // has a scheme
  return true;
}

std::string url_quote(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace xfmr::io::hub_detail
