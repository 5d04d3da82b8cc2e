#include "xfmr/optim/checkpoint.h"

#include "xfmr/io/safetensors.h"

namespace xfmr::optim {

void save_training_state(const std::filesystem::path& path, const Optimizer& optimizer, const LRScheduler* scheduler,
                         const std::map<std::string, std::string>& extra) {
  OptimizerState s = optimizer.state_dict();
  std::map<std::string, std::string> meta = extra;
  meta["xfmr.optimizer"] = s.json;
  if (scheduler) meta["xfmr.scheduler"] = scheduler->state_dict();
  io::save_safetensors(path, s.tensors, meta);
}

std::map<std::string, std::string> load_training_state(const std::filesystem::path& path, Optimizer& optimizer,
                                                       LRScheduler* scheduler) {
  io::SafetensorsFile f = io::SafetensorsFile::open(path);
  const auto& meta = f.metadata();
  auto it = meta.find("xfmr.optimizer");
  XFMR_CHECK(it != meta.end(), path.string(), ": no optimizer state (metadata entry xfmr.optimizer)");
  OptimizerState s;
  s.json = it->second;
  for (const auto& info : f.tensors()) s.tensors.emplace_back(info.name, f.get(info.name));
  optimizer.load_state_dict(s);
  if (scheduler) {
    auto sit = meta.find("xfmr.scheduler");
    XFMR_CHECK(sit != meta.end(), path.string(), ": no scheduler state (metadata entry xfmr.scheduler)");
    scheduler->load_state_dict(sit->second);
  }
  return meta;
}

}  // namespace xfmr::optim
