#pragma once
// The protocol's core, independent of transport: health, server and model metadata, and inference (requests
// checked against the model, then run on its Session). Both front ends (http_routes.cpp, grpc_service.cpp) call
// this and only translate; refusals are ServeError with the status the protocol gives them.

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "inference_types.h"
#include "model_repository.h"

namespace kiln::serve {

/// A tensor as model metadata describes it: -1 for a dim the model leaves variable.
struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs, outputs;
};

struct ServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};

class InferenceService {
 public:
  explicit InferenceService(const ModelRepository& repository) : repository_(repository) {}

  bool live() const { return true; }
  /// Every model loaded and the server not shutting down.
  bool ready() const;
  /// Set when shutdown begins: readiness turns false; requests already received are still answered.
  void begin_shutdown() { shutting_down_ = true; }

  ServerMetadata server_metadata() const;
  /// Throws ServeError 404 naming the model (and version) when there is no such model, 503 while it loads.
  ModelMetadata model_metadata(std::string_view name, std::string_view version) const;
  /// False for an unknown model.
  bool model_ready(std::string_view name, std::string_view version) const;

  /// Checks `request` against the model (input names, datatypes, ranks and fixed dims, every input given once,
  /// output names) and runs it, counting it in the model's metrics. Throws ServeError: 404 unknown model, 400 a
  /// request the model cannot take, 503 a model still loading, 500 a failed run.
  InferResponse infer(InferRequest request) const;

 private:
  const ServedModel& model(std::string_view name, std::string_view version) const;
  InferResponse run(const ServedModel& model, InferRequest request) const;

  const ModelRepository& repository_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace kiln::serve
