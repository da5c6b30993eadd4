#pragma once
// The models a server holds: `kiln serve DIR` loads every sub-folder of DIR that holds one .onnx file (the
// folder's name is the model's name), `kiln serve model.onnx` that one file (its stem is the name). A model
// folder may hold `config.json`, a small object of per-model settings (today "threads": the model's intra-op
// threads); an unknown key is refused by name, so a typo never passes silently.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/session.h"

namespace kiln::serve {

/// One loaded model. Every model has one version, "1".
struct ServedModel {
  std::string name;
  std::string version = "1";
  std::string path;  ///< the .onnx file
  std::unique_ptr<Session> session;
  std::atomic<bool> ready{false};
};

struct RepositoryOptions {
  SessionOptions session;  ///< what every model's session starts from (config.json may change threads)
};

class ModelRepository {
 public:
  /// Loads `path` (a repository folder or one .onnx file). Throws kiln::Error naming the model folder or file
  /// at fault: a folder without models, a model folder with no or several .onnx files, a bad config, a model
  /// kiln cannot load.
  static ModelRepository load(const std::string& path, const RepositoryOptions& options);

  /// The model named `name`, or null; `version` must be empty or the model's version.
  const ServedModel* find(std::string_view name, std::string_view version = {}) const;
  const std::vector<std::unique_ptr<ServedModel>>& models() const { return models_; }

 private:
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace kiln::serve
