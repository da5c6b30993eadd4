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

/// One model in the repository index (Triton's model repository extension).
struct RepositoryEntry {
  std::string name;
  std::string version;
  std::string state;   ///< "READY", "LOADING", "UNLOADED", "UNAVAILABLE"
  std::string reason;  ///< why it is UNAVAILABLE, else empty
};

struct ServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};

/// Refuses (400) a repository request parameter kiln does not take: all but `unload_dependents` (kiln's models
/// have no dependents, so either value unloads the one model). Triton's config override and model files are
/// refused by name rather than ignored.
void check_repository_parameter(std::string_view key);

class InferenceService {
 public:
  explicit InferenceService(ModelRepository& repository) : repository_(repository) {}

  bool live() const { return true; }
  /// The models loaded at start (later unloads do not count) and the server not shutting down.
  bool ready() const;
  /// Set when shutdown begins: readiness turns false; requests already received are still answered.
  void begin_shutdown() { shutting_down_ = true; }

  ServerMetadata server_metadata() const;
  /// Throws ServeError 404 naming the model (and version) when there is no such model, 503 while it loads.
  ModelMetadata model_metadata(std::string_view name, std::string_view version) const;
  /// Throws ServeError 404 naming the model (or version) when the repository has no such model.
  void require_model(std::string_view name, std::string_view version) const { model(name, version); }
  /// False for an unknown model.
  bool model_ready(std::string_view name, std::string_view version) const;

  /// Checks `request` against the model (input names, datatypes, ranks and fixed dims, every input given once,
  /// output names) and runs it, counting it in the model's metrics. Throws ServeError: 404 unknown model, 400 a
  /// request the model cannot take, 503 a model still loading, 500 a failed run.
  InferResponse infer(InferRequest request) const;

  /// Requests a transport has handed to its inference workers that no worker has started yet (both protocols):
  /// while any wait, every unbatched run goes on its own thread (RunOptions::calling_thread_only) even when
  /// it finds no other run going, since the waiting ones are about to start on the other cores; a run that
  /// took the session's pool then would leave a pool thread competing with them for the cores. Except a run of a
  /// model with one instance (config.json "instances": 1): the waiting requests cannot start beside it, so it
  /// takes the pool (a waiting request for another model may then share the cores with it for that run).
  void request_queued() const { queued_.fetch_add(1, std::memory_order_relaxed); }
  void request_started() const { queued_.fetch_sub(1, std::memory_order_relaxed); }

  /// Triton's model repository extension: every model the repository knows (with ready_only: the READY ones),
  /// load (or reload) and unload by name (ModelRepository::load/unload; ServeError 400 naming the model).
  std::vector<RepositoryEntry> repository_index(bool ready_only) const;
  /// const: they change the repository's models, not the service (the transports hold the service const).
  void load_model(const std::string& name) const;
  void unload_model(const std::string& name) const;

 private:
  const ServedModel& model(std::string_view name, std::string_view version) const;
  InferResponse run(const ServedModel& model, InferRequest request) const;

  ModelRepository& repository_;
  std::atomic<bool> shutting_down_{false};
  mutable std::atomic<int> queued_{0};
};

}  // namespace kiln::serve
