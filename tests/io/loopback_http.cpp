#include "loopback_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace xfmr::test {
namespace {

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// `hex_len` lowercase hex digits derived from `s` (a stand-in for SHA-1 / SHA-256): one pass over
// `s`, then the 64-bit digest is stretched.
std::string fake_hash(const std::string& s, size_t hex_len) {
  const std::string digest = std::to_string(fnv1a(s, 0)) + "/" + std::to_string(s.size());
  std::string out;
  for (uint64_t seed = 1; out.size() < hex_len; ++seed) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(digest, seed)));
    out += buf;
  }
  return out.substr(0, hex_len);
}

bool is_lfs_name(const std::string& name) {
  for (const char* ext : {".safetensors", ".bin", ".h5", ".msgpack"}) {
    std::string e = ext;
    if (name.size() >= e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool send_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("loopback hub: cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

LoopbackHub::LoopbackHub() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("loopback hub: socket() failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("loopback hub: cannot listen on 127.0.0.1");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { serve(); });
}

LoopbackHub::~LoopbackHub() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> g(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
}

void LoopbackHub::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, 20);
    if (rc <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> g(mu_);
    workers_.emplace_back([this, fd] { handle(fd); });
  }
}

void LoopbackHub::handle(int fd) {
  std::string buf;
  char chunk[4096];
  while (buf.find("\r\n\r\n") == std::string::npos && buf.size() < 65536) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) {
    ::close(fd);
    return;
  }
  LoggedRequest req;
  std::istringstream lines(buf.substr(0, end));
  std::string line;
  std::getline(lines, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  {
    std::istringstream rl(line);
    std::string version;
    rl >> req.method >> req.target >> version;
  }
  req.path = req.target.substr(0, req.target.find('?'));
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    value.erase(0, value.find_first_not_of(" \t"));
    req.headers[name] = value;
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    log_.push_back(req);
  }
  Response r = route(req);
  r.head = req.method == "HEAD";
  std::ostringstream head;
  head << "HTTP/1.1 " << r.status << " " << r.reason << "\r\n";
  bool has_length = false;
  for (const auto& [k, v] : r.headers) {
    head << k << ": " << v << "\r\n";
    if (k == "Content-Length") has_length = true;
  }
  if (!has_length) head << "Content-Length: " << r.body.size() << "\r\n";
  head << "Connection: close\r\n\r\n";
  std::string h = head.str();
  bool ok = send_all(fd, h.data(), h.size());
  if (ok && !r.head) {
    size_t limit = std::min(r.cut_after, r.body.size());
    size_t sent = 0;
    const size_t step = 256 * 1024;
    while (ok && sent < limit) {
      size_t n = std::min(step, limit - sent);
      ok = send_all(fd, r.body.data() + sent, n);
      sent += n;
      if (r.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

LoopbackHub::Response LoopbackHub::route(const LoggedRequest& req) {
  Response r;
  const std::string& path = req.path;
  if (req.method != "GET" && req.method != "HEAD") {
    r.status = 405;
    r.reason = "Method Not Allowed";
    return r;
  }
  if (path.rfind("/cdn/", 0) == 0) return cdn(req, path.substr(5));
  if (path.rfind("/api/models/", 0) == 0) {
    std::string rest = path.substr(12);
    size_t at = rest.find("/revision/");
    if (api_enabled_ && at != std::string::npos) return api(req, rest.substr(0, at), url_decode(rest.substr(at + 10)));
    r.status = 404;
    r.reason = "Not Found";
    r.body = "Not Found";
    return r;
  }
  size_t at = path.find("/resolve/");
  if (at != std::string::npos && at > 1) {
    std::string repo = path.substr(1, at - 1);
    std::string rest = path.substr(at + 9);
    size_t slash = rest.find('/');
    if (slash != std::string::npos) return resolve(req, repo, url_decode(rest.substr(0, slash)), url_decode(rest.substr(slash + 1)));
  }
  r.status = 404;
  r.reason = "Not Found";
  r.body = "Not Found";
  return r;
}

bool LoopbackHub::check_repo(const LoggedRequest& req, const std::string& repo, const std::string& rev,
                             std::string* commit, Response* err) {
  auto it = repos_.find(repo);
  if (it == repos_.end()) {
    err->status = 404;
    err->reason = "Not Found";
    err->headers = {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Repository not found"}};
    err->body = "Repository not found";
    return false;
  }
  const Repo& r = it->second;
  if (!r.token.empty() && req.header("authorization") != "Bearer " + r.token) {
    err->status = 401;
    err->reason = "Unauthorized";
    if (r.gated) {
      err->headers = {{"X-Error-Code", "GatedRepo"},
                      {"X-Error-Message", "Access to model " + repo + " is restricted. You must have access to it and be authenticated to access it. Please log in."}};
    } else {
      err->headers = {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Invalid username or password."}};
    }
    return false;
  }
  if (r.commits.count(rev)) {
    *commit = rev;
    return true;
  }
  auto ref = r.refs.find(rev);
  if (ref == r.refs.end()) {
    err->status = 404;
    err->reason = "Not Found";
    err->headers = {{"X-Error-Code", "RevisionNotFound"}, {"X-Error-Message", "Invalid rev id: " + rev}};
    return false;
  }
  *commit = ref->second;
  return true;
}

LoopbackHub::Response LoopbackHub::resolve(const LoggedRequest& req, const std::string& repo, const std::string& rev,
                                           const std::string& file) {
  std::lock_guard<std::mutex> g(mu_);
  Response r;
  if (auto rn = renames_.find(repo); rn != renames_.end()) {
    r.status = 307;
    r.reason = "Temporary Redirect";
    std::string rest = req.target.substr(1 + repo.size());  // "/resolve/..."
    r.headers = {{"Location", "/" + rn->second + rest}};
    return r;
  }
  std::string commit;
  if (!check_repo(req, repo, rev, &commit, &r)) return r;
  const auto& files = repos_.at(repo).commits.at(commit);
  auto f = files.find(file);
  if (f == files.end()) {
    r.status = 404;
    r.reason = "Not Found";
    r.headers = {{"X-Error-Code", "EntryNotFound"}, {"X-Error-Message", "Entry not found"}, {"X-Repo-Commit", commit}};
    r.body = "Entry not found";
    return r;
  }
  if (f->second.lfs) {
    r.status = 302;
    r.reason = "Found";
    r.headers = {{"Location", "http://" + lfs_host_ + ":" + std::to_string(port_) + "/cdn/" + f->second.etag +
                                  "?X-Amz-Signature=fake&response-content-disposition=attachment"},
                 {"X-Linked-Etag", "\"" + f->second.etag + "\""},
                 {"X-Linked-Size", std::to_string(f->second.content.size())},
                 {"X-Repo-Commit", commit},
                 {"ETag", "\"" + f->second.pointer_etag + "\""}};
    return r;
  }
  r.headers = {{"Content-Type", "application/octet-stream"},
               {"ETag", "\"" + f->second.etag + "\""},
               {"X-Repo-Commit", commit},
               {"Accept-Ranges", "bytes"}};
  r.body = f->second.content;
  return r;
}

LoopbackHub::Response LoopbackHub::api(const LoggedRequest& req, const std::string& repo, const std::string& rev) {
  std::lock_guard<std::mutex> g(mu_);
  Response r;
  std::string commit;
  if (!check_repo(req, repo, rev, &commit, &r)) return r;
  nlohmann::json siblings = nlohmann::json::array();
  for (const auto& [name, f] : repos_.at(repo).commits.at(commit)) siblings.push_back({{"rfilename", name}});
  nlohmann::json j = {{"_id", fake_hash(repo, 24)}, {"id", repo}, {"sha", commit}, {"private", false}, {"siblings", siblings}};
  r.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  r.body = j.dump();
  return r;
}

LoopbackHub::Response LoopbackHub::cdn(const LoggedRequest& req, const std::string& etag) {
  Response r;
  std::string content;
  bool found = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [name, repo] : repos_)
      for (const auto& [c, files] : repo.commits)
        for (const auto& [fname, f] : files)
          if (f.lfs && f.etag == etag) {
            content = f.content;
            found = true;
          }
    if (found && req.method == "GET" && cuts_left_ > 0) {
      --cuts_left_;
      r.cut_after = cut_after_;
    }
  }
  if (!found) {
    r.status = 404;
    r.reason = "Not Found";
    r.body = "NoSuchKey";
    return r;
  }
  r.delay_ms = cdn_delay_ms_;
  const size_t total = content.size();
  std::string range = req.header("range");
  r.headers = {{"Content-Type", "application/octet-stream"}, {"ETag", "\"" + etag + "\""}, {"Accept-Ranges", "bytes"}};
  if (range.rfind("bytes=", 0) == 0 && range.back() == '-') {
    size_t start = std::stoull(range.substr(6, range.size() - 7));
    if (start >= total) {
      r.status = 416;
      r.reason = "Range Not Satisfiable";
      r.headers.push_back({"Content-Range", "bytes */" + std::to_string(total)});
      r.cut_after = std::string::npos;
      return r;
    }
    r.status = 206;
    r.reason = "Partial Content";
    r.headers.push_back({"Content-Range", "bytes " + std::to_string(start) + "-" + std::to_string(total - 1) + "/" +
                                              std::to_string(total)});
    r.body = content.substr(start);
    return r;
  }
  r.body = std::move(content);
  return r;
}

std::string LoopbackHub::add_commit(const std::string& repo, const std::map<std::string, std::string>& files,
                                    const std::string& branch) {
  std::lock_guard<std::mutex> g(mu_);
  std::string seed = repo + "#" + std::to_string(++counter_);
  std::map<std::string, File> out;
  for (const auto& [name, content] : files) {
    File f;
    f.content = content;
    f.lfs = is_lfs_name(name);
    f.etag = fake_hash("blob " + content, f.lfs ? 64 : 40);
    if (f.lfs) f.pointer_etag = fake_hash("pointer " + f.etag, 40);
    seed += "|" + name + ":" + f.etag;
    out.emplace(name, std::move(f));
  }
  std::string commit = fake_hash(seed, 40);
  Repo& r = repos_[repo];
  r.commits[commit] = std::move(out);
  if (!branch.empty()) r.refs[branch] = commit;
  return commit;
}

std::string LoopbackHub::add_folder(const std::string& repo, const std::filesystem::path& dir, const std::string& branch,
                                    const std::vector<std::string>& only) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    files[name] = read_file(e.path());
  }
  return add_commit(repo, files, branch);
}

void LoopbackHub::set_ref(const std::string& repo, const std::string& ref, const std::string& commit) {
  std::lock_guard<std::mutex> g(mu_);
  repos_[repo].refs[ref] = commit;
}

void LoopbackHub::require_token(const std::string& repo, const std::string& token, bool gated) {
  std::lock_guard<std::mutex> g(mu_);
  repos_[repo].token = token;
  repos_[repo].gated = gated;
}

void LoopbackHub::add_rename(const std::string& old_repo, const std::string& new_repo) {
  std::lock_guard<std::mutex> g(mu_);
  renames_[old_repo] = new_repo;
}

std::string LoopbackHub::etag_of(const std::string& repo, const std::string& commit, const std::string& file) const {
  std::lock_guard<std::mutex> g(mu_);
  return repos_.at(repo).commits.at(commit).at(file).etag;
}

void LoopbackHub::set_lfs_host(const std::string& host) {
  std::lock_guard<std::mutex> g(mu_);
  lfs_host_ = host;
}

void LoopbackHub::cut_next_downloads(int count, size_t after_bytes) {
  std::lock_guard<std::mutex> g(mu_);
  cuts_left_ = count;
  cut_after_ = after_bytes;
}

std::vector<LoggedRequest> LoopbackHub::requests() const {
  std::lock_guard<std::mutex> g(mu_);
  return log_;
}

size_t LoopbackHub::request_count() const {
  std::lock_guard<std::mutex> g(mu_);
  return log_.size();
}

void LoopbackHub::clear_requests() {
  std::lock_guard<std::mutex> g(mu_);
  log_.clear();
}

std::vector<LoggedRequest> LoopbackHub::requests_to(const std::string& prefix, const std::string& method) const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<LoggedRequest> out;
  for (const auto& r : log_)
    if (r.path.rfind(prefix, 0) == 0 && (method.empty() || r.method == method)) out.push_back(r);
  return out;
}

}  // namespace xfmr::test
