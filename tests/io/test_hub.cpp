// Hub resolution and downloads against a fake hub on 127.0.0.1 (tests/io/loopback_http.h) serving
// the fixture models of ../shared in the hub's URL layout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/test_util.h"
#include "loopback_http.h"
#include "xfmr/io/hub.h"
#include "xfmr/io/safetensors.h"

namespace xfmr::test {
namespace {

namespace fs = std::filesystem;
using io::HubError;
using io::HubErrorKind;

const char* kRepo = "distilbert/distilbert-base-uncased-finetuned-sst-2-english";
const char* kFolder = "models--distilbert--distilbert-base-uncased-finetuned-sst-2-english";
const std::vector<std::string> kModelFiles = {"config.json", "model.safetensors", "tokenizer.json",
                                              "tokenizer_config.json", "vocab.txt"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

// Runs `fn` and returns the HubError it throws (failing the test when it does not throw one).
template <typename Fn>
HubError expect_hub_error(Fn&& fn) {
  try {
    fn();
  } catch (const HubError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected xfmr::io::HubError, got another exception: " << e.what();
    return HubError(HubErrorKind::Http, "wrong exception");
  }
  ADD_FAILURE() << "expected xfmr::io::HubError, nothing was thrown";
  return HubError(HubErrorKind::Http, "nothing thrown");
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "'" << (needle) << "' not in: " << (haystack)

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT",
                          "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH", "HF_HUB_DISABLE_IMPLICIT_TOKEN",
                          "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
      ::unsetenv(v);
    std::string tmpl = (fs::temp_directory_path() / "xfmr-hub-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    tmp_ = tmpl;
    cache_ = tmp_ / "hub";
    ::setenv("HF_HOME", (tmp_ / "hf_home").c_str(), 1);  // no token file from the real home
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    sst2_ = fixture_dir("XFMR_HUB_FIXTURE_SST2", "fixtures/models/distilbert-sequence-classification-sst2");
    sharded_ = fixture_dir("XFMR_HUB_FIXTURE_SHARDED", "fixtures/models/bert-masked-lm-sharded");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
    for (const char* v : {"HF_HUB_OFFLINE", "HF_TOKEN", "HF_HOME"}) ::unsetenv(v);
  }
  io::HubOptions opts() const {
    io::HubOptions o;
    o.endpoint = hub_.endpoint();
    o.cache_dir = cache_;
    o.progress = io::HubProgress::Quiet;
    o.metadata_timeout = 5;
    o.download_timeout = 5;
    return o;
  }
  fs::path repo_dir() const { return cache_ / kFolder; }
  std::string serve_sst2(const std::string& repo = kRepo) { return hub_.add_folder(repo, sst2_); }
  // A port nothing listens on.
  static std::string dead_endpoint() {
    LoopbackHub h;
    return h.endpoint();  // closed when h goes away
  }

  LoopbackHub hub_;
  fs::path tmp_, cache_, sst2_, sharded_;
};

#define REQUIRE_SST2() XFMR_REQUIRE_DIR(sst2_, "fixture model distilbert-sequence-classification-sst2")

// --- ids, settings ---------------------------------------------------------------------------------

TEST_F(HubTest, RepoIdsAreValidatedLikeHuggingfaceHub) {
  for (const char* ok : {"gpt2", "bert-base-uncased", "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
                         "Org_1/Model.v2-final", "a/b", "123"})
    EXPECT_NO_THROW(io::validate_repo_id(ok)) << ok;
  for (const char* bad : {"", "a/b/c", "datasets/foo/bar", "-abc/x", "org/-x", "org/x.", ".repo", "foo--bar/x",
                          "org/a..b", "org/x.git", "org/na me", "org/", "/name", "org/n@me", "org/é"}) {
    HubError e = expect_hub_error([&] { io::validate_repo_id(bad); });
    EXPECT_EQ(e.kind(), HubErrorKind::InvalidArgument) << bad;
    EXPECT_CONTAINS(e.what(), "invalid model id");
  }
  EXPECT_NO_THROW(io::validate_repo_id("org/" + std::string(96, 'x')));
  EXPECT_THROW(io::validate_repo_id("org/" + std::string(97, 'x')), HubError);

  io::ModelRef r = io::parse_model_id("org/name");
  EXPECT_EQ(r.repo_id, "org/name");
  EXPECT_EQ(r.revision, "main");
  r = io::parse_model_id("org/name@refs/pr/3");
  EXPECT_EQ(r.repo_id, "org/name");
  EXPECT_EQ(r.revision, "refs/pr/3");
  EXPECT_THROW(io::parse_model_id("org/name@"), HubError);
  EXPECT_THROW(io::parse_model_id("org/name@../../etc"), HubError);
  EXPECT_EQ(io::repo_folder_name("org/name"), "models--org--name");
  EXPECT_EQ(io::repo_folder_name("gpt2"), "models--gpt2");
}

TEST_F(HubTest, SettingsComeFromOptionsThenEnvironment) {
  for (const char* t : {"1", "true", "TRUE", "yes", "Yes", "on", "ON"}) EXPECT_TRUE(io::env_flag_is_true(t)) << t;
  for (const char* f : {"0", "false", "no", "off", "", "2", "enabled"}) EXPECT_FALSE(io::env_flag_is_true(f)) << f;
  EXPECT_FALSE(io::env_flag_is_true(nullptr));

  EXPECT_FALSE(io::hub_offline());
  ::setenv("HF_HUB_OFFLINE", "yes", 1);
  EXPECT_TRUE(io::hub_offline());
  io::HubOptions o;
  o.offline = false;
  EXPECT_FALSE(io::hub_offline(o));
  ::unsetenv("HF_HUB_OFFLINE");
  ::setenv("TRANSFORMERS_OFFLINE", "1", 1);
  EXPECT_TRUE(io::hub_offline());
  ::unsetenv("TRANSFORMERS_OFFLINE");

  EXPECT_EQ(io::hub_endpoint(), "https://huggingface.co");
  ::setenv("HF_ENDPOINT", "https://mirror.example/", 1);
  EXPECT_EQ(io::hub_endpoint(), "https://mirror.example");
  ::unsetenv("HF_ENDPOINT");

  EXPECT_EQ(io::hub_cache_dir(), tmp_ / "hf_home" / "hub");  // $HF_HOME/hub
  ::setenv("HF_HUB_CACHE", "/somewhere/cache", 1);
  EXPECT_EQ(io::hub_cache_dir(), fs::path("/somewhere/cache"));
  o.cache_dir = "/explicit";
  EXPECT_EQ(io::hub_cache_dir(o), fs::path("/explicit"));
  ::unsetenv("HF_HUB_CACHE");
  ::unsetenv("HF_HOME");
  const char* home = std::getenv("HOME");
  const std::string saved_home = home ? home : "";
  ::setenv("HOME", tmp_.c_str(), 1);
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const std::string saved_xdg = xdg ? xdg : "";
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(io::hub_cache_dir(), tmp_ / ".cache" / "huggingface" / "hub");
  ::setenv("XDG_CACHE_HOME", (tmp_ / "xdg").c_str(), 1);
  EXPECT_EQ(io::hub_cache_dir(), tmp_ / "xdg" / "huggingface" / "hub");
  if (saved_xdg.empty()) ::unsetenv("XDG_CACHE_HOME");
  else ::setenv("XDG_CACHE_HOME", saved_xdg.c_str(), 1);
  if (saved_home.empty()) ::unsetenv("HOME");
  else ::setenv("HOME", saved_home.c_str(), 1);
}

TEST_F(HubTest, LocalFolderIsUsedAsIs) {
  fs::path local = tmp_ / "my-model";
  fs::create_directories(local);
  EXPECT_EQ(io::resolve_model(local.string(), opts()), local);
  HubError e = expect_hub_error([&] { io::resolve_model((tmp_ / "missing").string(), opts()); });
  EXPECT_CONTAINS(e.what(), "does not exist");
  spit(tmp_ / "file.json", "{}");
  e = expect_hub_error([&] { io::resolve_model((tmp_ / "file.json").string(), opts()); });
  EXPECT_CONTAINS(e.what(), "is a file");
  e = expect_hub_error([&] { io::resolve_model("a/b/c", opts()); });
  EXPECT_CONTAINS(e.what(), "neither an existing folder nor a valid hub id");
  EXPECT_EQ(hub_.request_count(), 0u);
}

// --- cache hits -------------------------------------------------------------------------------------

// A cache exactly as Python's huggingface_hub leaves it: blobs named by ETag, refs/main, and
// relative symlinks in snapshots/<commit>/.
TEST_F(HubTest, PythonPopulatedCacheIsUsedWithoutNetwork) {
  REQUIRE_SST2();
  const std::string commit = "714eb0fa89d2f80546fda750413ed43d93601a13";
  int i = 0;
  for (const auto& f : kModelFiles) {
    std::string etag = f == "model.safetensors" ? std::string(64, 'a' + i) : std::string(40, 'a' + i);
    ++i;
    fs::create_directories(repo_dir() / "blobs");
    fs::copy_file(sst2_ / f, repo_dir() / "blobs" / etag);
    fs::create_directories(repo_dir() / "snapshots" / commit);
    fs::create_symlink("../../blobs/" + etag, repo_dir() / "snapshots" / commit / f);
  }
  spit(repo_dir() / "refs" / "main", commit);  // no newline, as Python writes it
  fs::create_directories(repo_dir() / ".no_exist" / commit);
  spit(repo_dir() / ".no_exist" / commit / "special_tokens_map.json", "");

  io::HubOptions o = opts();
  fs::path dir = io::resolve_model(kRepo, o);
  EXPECT_EQ(dir, repo_dir() / "snapshots" / commit);
  EXPECT_EQ(slurp(dir / "model.safetensors"), slurp(sst2_ / "model.safetensors"));
  io::ModelSnapshot s = io::download_model(kRepo, "main", o);
  EXPECT_EQ(s.commit, commit);
  EXPECT_TRUE(s.downloaded.empty());
  EXPECT_EQ(s.files.size(), kModelFiles.size());
  // Optional files: cached, known-missing, unknown.
  o.allow_missing = true;
  EXPECT_EQ(io::hub_file(kRepo, "tokenizer.json", "main", o), dir / "tokenizer.json");
  EXPECT_EQ(io::hub_file(kRepo, "special_tokens_map.json", "main", o), fs::path());
  EXPECT_EQ(io::lookup_cached_file(kRepo, "special_tokens_map.json", "main", o).status, io::CacheStatus::KnownMissing);
  EXPECT_EQ(io::lookup_cached_file(kRepo, "merges.txt", "main", o).status, io::CacheStatus::NotCached);
  EXPECT_EQ(hub_.request_count(), 0u);

  // Also with the endpoint unreachable, and with a full commit hash as revision.
  o.endpoint = dead_endpoint();
  EXPECT_EQ(io::resolve_model(std::string(kRepo) + "@" + commit, o), dir);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(io::resolve_model(kRepo, opts()), dir);
  EXPECT_EQ(hub_.request_count(), 0u);
}

// --- downloads --------------------------------------------------------------------------------------

TEST_F(HubTest, DownloadIntoEmptyCacheUsesTheHubLayout) {
  REQUIRE_SST2();
  const std::string commit = serve_sst2();
  io::ModelSnapshot s = io::download_model(kRepo, "main", opts());
  EXPECT_TRUE(s.used_api);
  EXPECT_EQ(s.commit, commit);
  EXPECT_EQ(s.dir, repo_dir() / "snapshots" / commit);
  EXPECT_EQ(slurp(repo_dir() / "refs" / "main"), commit);
  std::vector<std::string> files = s.files, want = kModelFiles;
  std::sort(files.begin(), files.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files, want);  // goldens.json is not a model file: not fetched
  EXPECT_FALSE(fs::exists(s.dir / "goldens.json"));
  // Optional files absent from the API listing are remembered as missing at that commit.
  EXPECT_TRUE(fs::exists(repo_dir() / ".no_exist" / commit / "merges.txt"));
  EXPECT_FALSE(fs::exists(repo_dir() / ".no_exist" / commit / "vocab.txt"));
  for (const auto& f : kModelFiles) {
    fs::path ptr = s.dir / f;
    ASSERT_TRUE(fs::is_symlink(ptr)) << f;
    const std::string etag = hub_.etag_of(kRepo, commit, f);
    EXPECT_EQ(fs::read_symlink(ptr), fs::path("../../blobs/" + etag)) << f;
    EXPECT_EQ(etag.size(), f == "model.safetensors" ? 64u : 40u);
    EXPECT_TRUE(fs::is_regular_file(repo_dir() / "blobs" / etag)) << f;
    EXPECT_EQ(slurp(ptr), slurp(sst2_ / f)) << f << " is not byte-identical";
  }
  for (const auto& e : fs::directory_iterator(repo_dir() / "blobs"))
    EXPECT_EQ(e.path().extension(), "") << "leftover " << e.path();
  EXPECT_EQ(s.downloaded.size(), kModelFiles.size());
  EXPECT_EQ(s.downloaded_bytes, fs::file_size(sst2_ / "model.safetensors") + fs::file_size(sst2_ / "config.json") +
                                    fs::file_size(sst2_ / "tokenizer.json") +
                                    fs::file_size(sst2_ / "tokenizer_config.json") + fs::file_size(sst2_ / "vocab.txt"));

  // The LFS file: HEAD on /resolve/ (302 not followed), then GET of the Location, without Range.
  auto heads = hub_.requests_to("/" + std::string(kRepo) + "/resolve/" + commit + "/model.safetensors", "HEAD");
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].header("accept-encoding"), "identity");
  auto cdn = hub_.requests_to("/cdn/");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0].method, "GET");
  EXPECT_EQ(cdn[0].header("range"), "");
  EXPECT_EQ(hub_.requests_to("/api/models/" + std::string(kRepo) + "/revision/main", "GET").size(), 1u);
  EXPECT_EQ(hub_.requests_to("/" + std::string(kRepo) + "/resolve/main/").size(), 0u)
      << "files are fetched at the commit the API returned";

  // The model loads from the snapshot.
  io::WeightFiles w = io::WeightFiles::open(s.dir);
  EXPECT_FALSE(w.names().empty());

  // Second time: cache hit, no request at all.
  hub_.clear_requests();
  EXPECT_EQ(io::resolve_model(kRepo, opts()), s.dir);
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(HubTest, RevisionByBranchTagPrAndCommitHash) {
  REQUIRE_SST2();
  const std::string main_commit = serve_sst2();
  std::map<std::string, std::string> v2 = {{"config.json", "{\"model_type\": \"distilbert\", \"v\": 2}"},
                                           {"model.safetensors", slurp(sst2_ / "model.safetensors")}};
  const std::string v2_commit = hub_.add_commit(kRepo, v2, "v2");
  hub_.set_ref(kRepo, "refs/pr/1", v2_commit);
  ASSERT_NE(main_commit, v2_commit);

  fs::path dir = io::resolve_model(std::string(kRepo) + "@v2", opts());
  EXPECT_EQ(dir, repo_dir() / "snapshots" / v2_commit);
  EXPECT_EQ(slurp(dir / "config.json"), v2["config.json"]);
  EXPECT_EQ(slurp(repo_dir() / "refs" / "v2"), v2_commit);
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));
  // Same content as main's model.safetensors: one blob shared by two snapshots later on.

  io::ModelSnapshot pr = io::download_model(kRepo, "refs/pr/1", opts());
  EXPECT_EQ(pr.commit, v2_commit);
  EXPECT_EQ(slurp(repo_dir() / "refs" / "refs" / "pr" / "1"), v2_commit);
  EXPECT_TRUE(pr.downloaded.empty()) << "same commit as v2: everything was cached";
  EXPECT_EQ(hub_.requests_to("/api/models/" + std::string(kRepo) + "/revision/refs%2Fpr%2F1").size(), 1u);

  hub_.clear_requests();
  fs::path by_hash = io::resolve_model(std::string(kRepo) + "@" + main_commit, opts());
  EXPECT_EQ(by_hash, repo_dir() / "snapshots" / main_commit);
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / main_commit)) << "a commit hash needs no ref";
  EXPECT_EQ(slurp(by_hash / "config.json"), slurp(sst2_ / "config.json"));
  EXPECT_EQ(hub_.requests_to("/cdn/").size(), 0u) << "model.safetensors blob was already there (same ETag)";
  EXPECT_EQ(fs::read_symlink(by_hash / "model.safetensors"), fs::read_symlink(dir / "model.safetensors"));

  hub_.clear_requests();
  EXPECT_EQ(io::resolve_model(std::string(kRepo) + "@" + main_commit, opts()), by_hash);
  EXPECT_EQ(io::resolve_model(std::string(kRepo) + "@v2", opts()), dir);
  EXPECT_EQ(hub_.request_count(), 0u);

  HubError e = expect_hub_error([&] { io::download_model(kRepo, "no-such-branch", opts()); });
  EXPECT_EQ(e.kind(), HubErrorKind::RevisionNotFound);
  EXPECT_CONTAINS(e.what(), "no-such-branch");
}

TEST_F(HubTest, InterruptedTransferResumesWithRange) {
  REQUIRE_SST2();
  const std::string commit = serve_sst2();
  const size_t cut = 1'000'000;
  hub_.cut_next_downloads(1, cut);
  fs::path p = io::hub_file(kRepo, "model.safetensors", "main", opts());
  EXPECT_EQ(slurp(p), slurp(sst2_ / "model.safetensors"));
  auto cdn = hub_.requests_to("/cdn/", "GET");
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[0].header("range"), "");
  EXPECT_EQ(cdn[1].header("range"), "bytes=" + std::to_string(cut) + "-");
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (hub_.etag_of(kRepo, commit, "model.safetensors") + ".incomplete")));
}

TEST_F(HubTest, InterruptedDownloadResumesOnTheNextRun) {
  REQUIRE_SST2();
  const std::string commit = serve_sst2();
  const std::string etag = hub_.etag_of(kRepo, commit, "model.safetensors");
  const fs::path incomplete = repo_dir() / "blobs" / (etag + ".incomplete");
  const size_t cut = 1'500'000;
  hub_.cut_next_downloads(1, cut);
  io::HubOptions o = opts();
  o.max_retries = 0;
  HubError e = expect_hub_error([&] { io::hub_file(kRepo, "model.safetensors", "main", o); });
  EXPECT_EQ(e.kind(), HubErrorKind::Network);
  EXPECT_CONTAINS(e.what(), "model.safetensors");
  EXPECT_CONTAINS(e.what(), "resume");
  EXPECT_CONTAINS(e.what(), incomplete.string());
  ASSERT_TRUE(fs::exists(incomplete));
  EXPECT_EQ(fs::file_size(incomplete), cut);
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / etag));
  EXPECT_FALSE(fs::exists(repo_dir() / "snapshots" / commit / "model.safetensors"));

  hub_.clear_requests();
  fs::path p = io::hub_file(kRepo, "model.safetensors", "main", o);
  EXPECT_EQ(slurp(p), slurp(sst2_ / "model.safetensors"));
  auto cdn = hub_.requests_to("/cdn/", "GET");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0].header("range"), "bytes=" + std::to_string(cut) + "-");
  EXPECT_FALSE(fs::exists(incomplete));
}

TEST_F(HubTest, PartialFileThatCannotBeAPrefixIsDiscarded) {
  REQUIRE_SST2();
  const std::string commit = serve_sst2();
  const std::string etag = hub_.etag_of(kRepo, commit, "model.safetensors");
  const size_t size = fs::file_size(sst2_ / "model.safetensors");
  spit(repo_dir() / "blobs" / (etag + ".incomplete"), std::string(size + 10, 'x'));  // longer than the file
  fs::path p = io::hub_file(kRepo, "model.safetensors", "main", opts());
  EXPECT_EQ(slurp(p), slurp(sst2_ / "model.safetensors"));
  auto cdn = hub_.requests_to("/cdn/", "GET");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0].header("range"), "");
}

TEST_F(HubTest, ShardedWeightsFollowTheIndex) {
  XFMR_REQUIRE_DIR(sharded_, "fixture model bert-masked-lm-sharded");
  const std::string repo = "google-bert/bert-sharded";
  const std::string commit = hub_.add_folder(repo, sharded_);
  io::ModelSnapshot s = io::download_model(repo, "main", opts());
  EXPECT_EQ(s.commit, commit);
  for (const char* f : {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                        "model-00002-of-00002.safetensors", "tokenizer.json", "vocab.txt"}) {
    EXPECT_NE(std::find(s.files.begin(), s.files.end(), f), s.files.end()) << f;
    EXPECT_EQ(slurp(s.dir / f), slurp(sharded_ / f)) << f;
  }
  EXPECT_EQ(hub_.requests_to("/cdn/", "GET").size(), 2u);
  io::WeightFiles w = io::WeightFiles::open(s.dir);
  EXPECT_EQ(w.files().size(), 2u);
  EXPECT_FALSE(w.names().empty());
}

// --- errors -----------------------------------------------------------------------------------------

TEST_F(HubTest, MissingRepoGivesAClearError) {
  HubError e = expect_hub_error([&] { io::resolve_model("nobody/no-such-model", opts()); });
  EXPECT_EQ(e.kind(), HubErrorKind::RepoNotFound);
  EXPECT_EQ(e.http_status(), 404);
  EXPECT_CONTAINS(e.what(), "nobody/no-such-model");
  EXPECT_CONTAINS(e.what(), "not found");
  EXPECT_CONTAINS(e.what(), hub_.endpoint() + "/api/models/nobody/no-such-model");

  e = expect_hub_error([&] { io::hub_file("nobody/no-such-model", "config.json", "main", opts()); });
  EXPECT_EQ(e.kind(), HubErrorKind::RepoNotFound);
  EXPECT_CONTAINS(e.what(), hub_.endpoint() + "/nobody/no-such-model/resolve/main/config.json");
  EXPECT_FALSE(fs::exists(cache_ / "models--nobody--no-such-model" / "refs"));
}

TEST_F(HubTest, MissingFileGivesAClearErrorAndIsRemembered) {
  REQUIRE_SST2();
  const std::string commit = serve_sst2();
  HubError e = expect_hub_error([&] { io::hub_file(kRepo, "merges.txt", "main", opts()); });
  EXPECT_EQ(e.kind(), HubErrorKind::EntryNotFound);
  EXPECT_EQ(e.http_status(), 404);
  EXPECT_CONTAINS(e.what(), "'merges.txt'");
  EXPECT_CONTAINS(e.what(), kRepo);
  EXPECT_CONTAINS(e.what(), hub_.endpoint() + "/" + kRepo + "/resolve/main/merges.txt");
  EXPECT_TRUE(fs::exists(repo_dir() / ".no_exist" / commit / "merges.txt"));
  EXPECT_EQ(slurp(repo_dir() / "refs" / "main"), commit);

  hub_.clear_requests();
  io::HubOptions o = opts();
  o.allow_missing = true;
  EXPECT_EQ(io::hub_file(kRepo, "merges.txt", "main", o), fs::path());
  EXPECT_EQ(hub_.request_count(), 0u) << ".no_exist marker must answer without network";
}

TEST_F(HubTest, NoExistMarkersWithoutTheListingApi) {
  REQUIRE_SST2();
  hub_.set_api_enabled(false);  // a mirror that only serves /resolve/: try the known names
  const std::string commit = serve_sst2();
  io::ModelSnapshot s = io::download_model(kRepo, "main", opts());
  EXPECT_FALSE(s.used_api);
  EXPECT_EQ(s.commit, commit);
  EXPECT_EQ(s.files.size(), kModelFiles.size());
  for (const auto& f : kModelFiles) EXPECT_EQ(slurp(s.dir / f), slurp(sst2_ / f)) << f;
  EXPECT_EQ(slurp(repo_dir() / "refs" / "main"), commit);
  for (const char* f : {"special_tokens_map.json", "merges.txt", "spiece.model", "generation_config.json"})
    EXPECT_TRUE(fs::exists(repo_dir() / ".no_exist" / commit / f)) << f;
  EXPECT_FALSE(fs::exists(repo_dir() / ".no_exist" / commit / "model.safetensors"));
  EXPECT_FALSE(fs::exists(repo_dir() / ".no_exist" / commit / "model.safetensors.index.json"))
      << "model.safetensors exists, so the index is not even asked for";

  hub_.clear_requests();
  io::HubOptions o = opts();
  o.allow_missing = true;
  EXPECT_EQ(io::hub_file(kRepo, "generation_config.json", "main", o), fs::path());
  EXPECT_EQ(io::hub_file(kRepo, "vocab.txt", "main", o), s.dir / "vocab.txt");
  EXPECT_EQ(io::download_model(kRepo, "main", opts()).dir, s.dir);
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(HubTest, PytorchOnlyRepoNeedsSafetensors) {
  for (bool api : {true, false}) {
    SCOPED_TRACE(api ? "with the API" : "without the API");
    hub_.set_api_enabled(api);
    const std::string repo = api ? "old/bert-api" : "old/bert-noapi";
    hub_.add_commit(repo, {{"config.json", "{}"}, {"pytorch_model.bin", std::string(1000, '\1')}, {"vocab.txt", "a\n"}});
    HubError e = expect_hub_error([&] { io::download_model(repo, "main", opts()); });
    EXPECT_EQ(e.kind(), HubErrorKind::Unsupported);
    EXPECT_CONTAINS(e.what(), "pytorch_model.bin");
    EXPECT_CONTAINS(e.what(), "safetensors");
    EXPECT_CONTAINS(e.what(), repo);
    EXPECT_EQ(hub_.requests_to("/cdn/").size(), 0u) << "the .bin must not be downloaded";
  }
}

TEST_F(HubTest, PrivateRepoNeedsHfToken) {
  REQUIRE_SST2();
  serve_sst2();
  hub_.require_token(kRepo, "hf_secret");
  HubError e = expect_hub_error([&] { io::download_model(kRepo, "main", opts()); });
  EXPECT_EQ(e.kind(), HubErrorKind::Unauthorized);
  EXPECT_EQ(e.http_status(), 401);
  EXPECT_CONTAINS(e.what(), "HF_TOKEN");
  EXPECT_CONTAINS(e.what(), kRepo);
  e = expect_hub_error([&] { io::hub_file(kRepo, "config.json", "main", opts()); });
  EXPECT_CONTAINS(e.what(), "HF_TOKEN");
  EXPECT_CONTAINS(e.what(), "/resolve/main/config.json");

  io::HubOptions o = opts();
  o.token = "hf_wrong";
  e = expect_hub_error([&] { io::download_model(kRepo, "main", o); });
  EXPECT_CONTAINS(e.what(), "was sent");

  hub_.clear_requests();
  ::setenv("HF_TOKEN", "hf_secret", 1);
  io::ModelSnapshot s = io::download_model(kRepo, "main", opts());
  EXPECT_EQ(slurp(s.dir / "model.safetensors"), slurp(sst2_ / "model.safetensors"));
  for (const auto& r : hub_.requests()) {
    if (r.path.rfind("/cdn/", 0) == 0) continue;
    EXPECT_EQ(r.header("authorization"), "Bearer hf_secret") << r.method << " " << r.target;
  }
  // The CDN is on the same host:port here, so like huggingface_hub the token goes along.
  ASSERT_EQ(hub_.requests_to("/cdn/").size(), 1u);
  EXPECT_EQ(hub_.requests_to("/cdn/")[0].header("authorization"), "Bearer hf_secret");
}

TEST_F(HubTest, GatedRepoMessageAndTokenFile) {
  REQUIRE_SST2();
  serve_sst2();
  hub_.require_token(kRepo, "hf_from_file", /*gated=*/true);
  HubError e = expect_hub_error([&] { io::hub_file(kRepo, "config.json", "main", opts()); });
  EXPECT_EQ(e.kind(), HubErrorKind::Unauthorized);
  EXPECT_CONTAINS(e.what(), "gated");
  EXPECT_CONTAINS(e.what(), "HF_TOKEN");
  spit(tmp_ / "hf_home" / "token", "hf_from_file\n");  // `huggingface-cli login` stores it there
  EXPECT_NO_THROW(io::hub_file(kRepo, "config.json", "main", opts()));
  io::HubOptions o = opts();
  o.token = "";  // explicitly none
  EXPECT_THROW(io::hub_file(kRepo, "tokenizer.json", "main", o), HubError);
}

TEST_F(HubTest, TokenIsNotSentToAnotherHost) {
  REQUIRE_SST2();
  serve_sst2();
  hub_.set_lfs_host("localhost");  // the CDN URL names another host than the endpoint (127.0.0.1)
  io::HubOptions o = opts();
  o.token = "hf_secret";
  fs::path p = io::hub_file(kRepo, "model.safetensors", "main", o);
  EXPECT_EQ(slurp(p), slurp(sst2_ / "model.safetensors"));
  auto head = hub_.requests_to("/" + std::string(kRepo) + "/resolve/", "HEAD");
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head[0].header("authorization"), "Bearer hf_secret");
  auto cdn = hub_.requests_to("/cdn/");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0].header("authorization"), "") << "token leaked to the CDN host";
  EXPECT_EQ(cdn[0].header("host"), "localhost:" + std::to_string(hub_.port()));
}

TEST_F(HubTest, OfflineModeNeverTouchesTheNetwork) {
  REQUIRE_SST2();
  serve_sst2();
  for (const char* v : {"1", "true", "YES", "on"}) {
    ::setenv("HF_HUB_OFFLINE", v, 1);
    HubError e = expect_hub_error([&] { io::resolve_model(kRepo, opts()); });
    EXPECT_EQ(e.kind(), HubErrorKind::Offline) << v;
    EXPECT_CONTAINS(e.what(), "HF_HUB_OFFLINE");
    EXPECT_CONTAINS(e.what(), cache_.string());
    EXPECT_CONTAINS(e.what(), kRepo);
    e = expect_hub_error([&] { io::hub_file(kRepo, "tokenizer.json", "main", opts()); });
    EXPECT_EQ(e.kind(), HubErrorKind::Offline);
    EXPECT_CONTAINS(e.what(), "'tokenizer.json'");
    EXPECT_CONTAINS(e.what(), cache_.string());
    io::HubOptions o = opts();
    o.allow_missing = true;
    EXPECT_EQ(io::hub_file(kRepo, "tokenizer.json", "main", o), fs::path()) << "optional + offline + not cached";
  }
  EXPECT_EQ(hub_.request_count(), 0u);

  // Partially cached: the message names what is missing.
  ::unsetenv("HF_HUB_OFFLINE");
  fs::path cfg = io::hub_file(kRepo, "config.json", "main", opts());
  hub_.clear_requests();
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  HubError e = expect_hub_error([&] { io::resolve_model(kRepo, opts()); });
  EXPECT_CONTAINS(e.what(), "model.safetensors");
  EXPECT_EQ(io::hub_file(kRepo, "config.json", "main", opts()), cfg);
  EXPECT_EQ(hub_.request_count(), 0u);

  // The option overrides the environment.
  io::HubOptions online = opts();
  online.offline = false;
  EXPECT_NO_THROW(io::resolve_model(kRepo, online));
  EXPECT_GT(hub_.request_count(), 0u);
}

TEST_F(HubTest, UnreachableHubMentionsOfflineModeAndCache) {
  io::HubOptions o = opts();
  o.endpoint = dead_endpoint();
  HubError e = expect_hub_error([&] { io::resolve_model("org/model", o); });
  EXPECT_EQ(e.kind(), HubErrorKind::Network);
  EXPECT_CONTAINS(e.what(), "HF_HUB_OFFLINE");
  EXPECT_CONTAINS(e.what(), cache_.string());
  EXPECT_CONTAINS(e.what(), o.endpoint);
}

// --- behaviour details --------------------------------------------------------------------------------

TEST_F(HubTest, RenamedRepoRelativeRedirectIsFollowed) {
  REQUIRE_SST2();
  serve_sst2();
  hub_.add_rename("old-org/old-name", kRepo);
  fs::path p = io::hub_file("old-org/old-name", "config.json", "main", opts());
  EXPECT_EQ(slurp(p), slurp(sst2_ / "config.json"));
  EXPECT_TRUE(fs::exists(cache_ / "models--old-org--old-name" / "refs" / "main")) << "cached under the name asked";
  fs::path w = io::hub_file("old-org/old-name", "model.safetensors", "main", opts());
  EXPECT_EQ(slurp(w), slurp(sst2_ / "model.safetensors"));
}

TEST_F(HubTest, ConcurrentDownloadsOfOneFileShareOneTransfer) {
  REQUIRE_SST2();
  serve_sst2();
  hub_.set_cdn_delay_ms(15);  // ~16 chunks: long enough for both threads to meet at the lock
  fs::path paths[2];
  std::string errors[2];
  std::atomic<int> ready{0};
  auto run = [&](int i) {
    ++ready;
    while (ready < 2) std::this_thread::yield();
    try {
      paths[i] = io::hub_file(kRepo, "model.safetensors", "main", opts());
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(paths[0], paths[1]);
  EXPECT_EQ(slurp(paths[0]), slurp(sst2_ / "model.safetensors"));
  EXPECT_EQ(hub_.requests_to("/cdn/", "GET").size(), 1u) << "the second download waited on the lock";
  EXPECT_EQ(hub_.requests_to("/" + std::string(kRepo) + "/resolve/", "HEAD").size(), 2u);
}

TEST_F(HubTest, ProgressCallbackSeesEveryByte) {
  REQUIRE_SST2();
  serve_sst2();
  std::vector<io::DownloadProgress> seen;
  io::HubOptions o = opts();
  o.on_progress = [&](const io::DownloadProgress& p) { seen.push_back(p); };
  io::hub_file(kRepo, "model.safetensors", "main", o);
  ASSERT_FALSE(seen.empty());
  const uint64_t size = fs::file_size(sst2_ / "model.safetensors");
  EXPECT_TRUE(seen.back().done);
  EXPECT_EQ(seen.back().downloaded, size);
  EXPECT_EQ(seen.back().total, size);
  EXPECT_EQ(seen.back().filename, "model.safetensors");
  EXPECT_EQ(seen.back().repo_id, kRepo);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1].downloaded, seen[i].downloaded);
}

TEST_F(HubTest, RefreshFollowsAMovedBranch) {
  REQUIRE_SST2();
  const std::string first = serve_sst2();
  io::download_model(kRepo, "main", opts());
  std::map<std::string, std::string> next = {{"config.json", "{\"v\": 3}"},
                                             {"model.safetensors", slurp(sst2_ / "model.safetensors")}};
  const std::string second = hub_.add_commit(kRepo, next, "main");
  hub_.clear_requests();
  EXPECT_EQ(io::download_model(kRepo, "main", opts()).commit, first) << "cache-first by default";
  EXPECT_EQ(hub_.request_count(), 0u);

  io::HubOptions o = opts();
  o.refresh = true;
  io::ModelSnapshot s = io::download_model(kRepo, "main", o);
  EXPECT_EQ(s.commit, second);
  EXPECT_EQ(slurp(repo_dir() / "refs" / "main"), second);
  EXPECT_EQ(slurp(s.dir / "config.json"), next["config.json"]);
  EXPECT_EQ(hub_.requests_to("/cdn/").size(), 0u) << "unchanged weights are not downloaded again";

  o.endpoint = dead_endpoint();  // refreshing without network falls back to the cache
  EXPECT_EQ(io::download_model(kRepo, "main", o).commit, second);
  EXPECT_EQ(io::hub_file(kRepo, "config.json", "main", o), s.dir / "config.json");
}

}  // namespace
}  // namespace xfmr::test
