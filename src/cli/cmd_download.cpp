// `xfmr download MODEL_ID[@REV]`: fetches what a model needs into the HuggingFace cache and prints
// the snapshot folder; `xfmr cache-path MODEL_ID[@REV]`: prints it without any network access.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "xfmr/io/hub.h"

namespace xfmr::cli {
namespace {

struct HubArgs {
  std::string model;
  std::string revision;
  std::string cache_dir;
  std::string token;
  bool token_given = false;
  std::string endpoint;
  bool quiet = false;
  bool refresh = false;
  bool json = false;
  int threads = 0;
};

io::ModelRef model_ref(const HubArgs& a) {
  io::ModelRef ref = io::parse_model_id(a.model);
  if (!a.revision.empty()) {
    XFMR_CHECK(a.model.find('@') == std::string::npos, "give the revision either as MODEL_ID@REV or with --revision, not both");
    ref = io::parse_model_id(ref.repo_id + "@" + a.revision);
  }
  return ref;
}

io::HubOptions hub_options(const HubArgs& a) {
  io::HubOptions o;
  o.cache_dir = a.cache_dir;
  o.endpoint = a.endpoint;
  if (a.token_given) o.token = a.token;
  o.progress = a.quiet ? io::HubProgress::Quiet : io::HubProgress::Auto;
  o.refresh = a.refresh;
  return o;
}

void print_snapshot(const io::ModelSnapshot& s, bool json) {
  if (json) {
    nlohmann::json j = {{"path", s.dir.string()},   {"repo_id", s.repo_id},       {"revision", s.revision},
                        {"commit", s.commit},       {"files", s.files},           {"downloaded", s.downloaded},
                        {"downloaded_bytes", s.downloaded_bytes}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << s.dir.string() << "\n";
  }
}

void add_common(CLI::App& sub, HubArgs& a) {
  sub.add_option("model", a.model, "Hub model id: org/name, optionally @revision (branch, tag or commit hash)")->required();
  sub.add_option("--revision", a.revision, "Revision (instead of MODEL_ID@REV)");
  sub.add_option("--cache-dir", a.cache_dir, "Cache folder (default: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)");
  sub.add_flag("--json", a.json, "Print the snapshot path, commit and files as JSON");
  add_threads_option(sub, &a.threads);
}

XFMR_REGISTER_COMMAND(
    "download",
    "Download a model from the HuggingFace hub into the HF cache (config, safetensors weights, tokenizer files) "
    "and print its local folder",
    [](CLI::App& sub) {
      static HubArgs a;
      add_common(sub, a);
      sub.add_option("--token", a.token, "HuggingFace access token (default: $HF_TOKEN, then the file saved by "
                                         "`huggingface-cli login`)")
          ->each([](const std::string&) { a.token_given = true; });
      sub.add_option("--endpoint", a.endpoint, "Hub URL (default: $HF_ENDPOINT or https://huggingface.co)");
      sub.add_flag("--refresh", a.refresh, "Ask the hub for the latest commit of the revision even when it is cached");
      sub.add_flag("-q,--quiet", a.quiet, "No progress output");
      sub.footer(
          "The files go to the cache layout Python's huggingface_hub uses (models--org--name/snapshots/<commit>), so "
          "models downloaded by either are shared. A cached model is used without network access unless --refresh. "
          "Environment: HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE=1 (never use the network), "
          "https_proxy/no_proxy. See docs/hub.md.");
      return std::function<int()>([] {
        apply_threads(a.threads);
        io::ModelRef ref = model_ref(a);
        io::ModelSnapshot s = io::download_model(ref.repo_id, ref.revision, hub_options(a));
        if (!a.quiet && !s.downloaded.empty())
          std::cerr << "xfmr: downloaded " << s.downloaded.size() << " file(s) of " << s.repo_id << " at " << s.commit << "\n";
        print_snapshot(s, a.json);
        return 0;
      });
    });

XFMR_REGISTER_COMMAND("cache-path",
                      "Print the local folder of a model already in the HuggingFace cache (never uses the network)",
                      [](CLI::App& sub) {
                        static HubArgs a;
                        add_common(sub, a);
                        return std::function<int()>([] {
                          apply_threads(a.threads);
                          io::ModelRef ref = model_ref(a);
                          io::HubOptions o = hub_options(a);
                          o.offline = true;
                          o.progress = io::HubProgress::Quiet;
                          try {
                            print_snapshot(io::download_model(ref.repo_id, ref.revision, o), a.json);
                          } catch (const io::HubError& e) {
                            if (e.kind() != io::HubErrorKind::Offline) throw;
                            std::string msg = e.what();  // reworded: cache-path is offline by design
                            const std::string from = "offline mode (HF_HUB_OFFLINE): ";
                            if (auto at = msg.find(from); at != std::string::npos) msg.replace(at, from.size(), "");
                            const std::string tail = " or unset HF_HUB_OFFLINE";
                            if (auto at = msg.find(tail); at != std::string::npos) msg.erase(at, tail.size());
                            throw Error("cache-path (never downloads): " + msg);
                          }
                          return 0;
                        });
                      });

}  // namespace
}  // namespace xfmr::cli
