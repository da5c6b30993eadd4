#pragma once
// The models a server holds: `kiln serve DIR` loads every sub-folder of DIR that holds one .onnx file (the
// folder's name is the model's name), `kiln serve model.onnx` that one file (its stem is the name), and a DIR
// that itself holds one .onnx file is that one model's folder (KServe's /mnt/models). A model
// folder may hold `config.json`, a small object of per-model settings: "threads" (the model's intra-op threads),
// "max_batch_size", "max_queue_delay_us", "max_queue_size" (dynamic batching, batcher.h); an unknown key is
// refused by name, so a typo never passes silently.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/session.h"
#include "batcher.h"
#include "model_metrics.h"

namespace kiln::serve {

/// One model. Every model has one version, "1". `session` is set once, before `ready` turns true (release);
/// readers check `ready` (acquire) before touching it.
struct ServedModel {
  std::string name;
  std::string version = "1";
  std::string path;         ///< the .onnx file
  SessionOptions options;   ///< the repository's, with the model's config.json applied
  std::unique_ptr<Session> session;
  std::atomic<bool> ready{false};
  mutable ModelMetrics metrics;  // observation, counted through const access
  BatchingConfig batching;       ///< from config.json; max_batch_size 0: every request runs alone
  std::unique_ptr<Batcher> batcher;  ///< set at load when batching; declared last, so stopped first
};

struct RepositoryOptions {
  SessionOptions session;  ///< what every model's session starts from (config.json may change threads)
  /// The name of the one model of an .onnx file or a model folder (default: the file's stem); refused for a
  /// repository, whose models are named by their folders. KServe passes the InferenceService's name here.
  std::string model_name;
};

class ModelRepository {
 public:
  /// Finds the models of `path` (a repository folder or one .onnx file) and reads their configs; loads none.
  /// Throws kiln::Error naming the folder or file at fault: a folder without models, a model folder with no or
  /// several .onnx files, a bad config.
  static ModelRepository scan(const std::string& path, const RepositoryOptions& options);
  /// Loads every model, in order, each turning ready when loaded (the server answers meanwhile: not ready).
  /// Throws kiln::Error naming the model kiln cannot load.
  void load_all();

  /// The model named `name`, or null; `version` must be empty or the model's version.
  const ServedModel* find(std::string_view name, std::string_view version = {}) const;
  const std::vector<std::unique_ptr<ServedModel>>& models() const { return models_; }

 private:
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace kiln::serve
