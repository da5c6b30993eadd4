#pragma once
// The models a server holds: `kiln serve DIR` loads every sub-folder of DIR that holds one .onnx file (the
// folder's name is the model's name), `kiln serve model.onnx` that one file (its stem is the name), and a DIR
// that itself holds one .onnx file is that one model's folder (KServe's /mnt/models). A model
// folder may hold `config.json`, a small object of per-model settings: "threads" (the model's intra-op threads),
// "instances" (executions of the model that run at once), "max_batch_size", "max_queue_delay_us",
// "max_queue_size" (dynamic batching, batcher.h); an unknown key is refused by name, so a typo never passes
// silently. Models load at start (load_all) and can be loaded again, added or unloaded while serving (Triton's
// model repository extension: load, unload, index).

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/session.h"
#include "batcher.h"
#include "fifo_slots.h"
#include "model_metrics.h"

namespace kiln::serve {

/// What loading a model makes. A request holds it (shared) while it runs, so an unload or a reload never cuts
/// one short: the last holder frees it. Set up before it is published, then never changed.
struct LoadedModel {
  std::unique_ptr<Session> session;
  BatchingConfig batching;  ///< the model's, as of this load
  /// `instances` of an unbatched model: a run takes a slot, so at most that many run at once (all on the one
  /// Session, whose prepacked weights they share; Session::run is thread-safe). Null: no limit.
  std::unique_ptr<FifoSlots> run_slots;
  /// Unbatched runs of this load going on now. A run that starts while another is going runs its kernels on its
  /// own thread alone (RunOptions::calling_thread_only): under load every core already has a run, and a run
  /// split over the session's threads would wait for threads the other runs keep busy. A run alone takes them all.
  mutable std::atomic<int> running{0};
  /// Test-only (KILN_SERVE_TEST_RUN_DELAY_MS): a sleep in each execution, so tests can see executions overlap.
  std::chrono::milliseconds test_run_delay{0};
  std::unique_ptr<Batcher> batcher;  ///< set when batching; declared last, so stopped first
};

/// Where a model is in its life, as the repository index names it.
enum class ModelState { kLoading, kReady, kUnloaded, kUnavailable };
std::string_view model_state_name(ModelState state);  ///< "LOADING", "READY", "UNLOADED" (Triton's names), ...

/// One model. Every model has one version, "1". Its settings are read at scan and again at every load (written
/// under the repository's load lock only; a request reads what it needs from its LoadedModel); metrics live as
/// long as the server (they count across reloads).
struct ServedModel {
  std::string name;
  std::string version = "1";
  std::string path;         ///< the .onnx file
  SessionOptions options;   ///< the repository's, with the model's config.json applied
  BatchingConfig batching;  ///< from config.json; max_batch_size 0: every request runs alone
  int64_t instances = 0;    ///< from config.json; 0 (absent): unbatched runs as workers bring them, batches one at a time
  mutable ModelMetrics metrics;  // observation, counted through const access

  /// What requests run on; null unless READY.
  std::shared_ptr<const LoadedModel> loaded() const;
  ModelState state() const;
  std::string reason() const;  ///< why the last load failed (UNAVAILABLE), else empty
  void publish(std::shared_ptr<const LoadedModel> loaded, ModelState state, std::string reason = {});

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const LoadedModel> loaded_;
  ModelState state_ = ModelState::kLoading;
  std::string reason_;
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
  bool all_loaded() const { return all_loaded_->load(std::memory_order_acquire); }

  /// Loads model `name` again from disk (its folder and config.json read anew; a new folder of a repository
  /// becomes a new model), replacing what it served once the new load is in; requests running meanwhile finish
  /// on the old one. Throws ServeError 400 naming the model and the cause when there is no such model folder
  /// or it cannot load; a model that was serving keeps serving then, one that was not turns UNAVAILABLE.
  void load(const std::string& name);
  /// Stops serving model `name` (UNLOADED): new requests get 503, running ones finish. ServeError 400 when the
  /// repository has no such model.
  void unload(const std::string& name);

  /// The model named `name`, or null; `version` must be empty or the model's version. Models are never
  /// removed, so the pointer stays valid.
  const ServedModel* find(std::string_view name, std::string_view version = {}) const;
  std::vector<const ServedModel*> models() const;

 private:
  ServedModel* find_mutable(std::string_view name) const;
  std::unique_ptr<ServedModel> read_model(const std::string& name) const;

  std::string root_;          ///< the path given to scan
  bool is_repository_ = false;  ///< root_ holds model folders (else it is one model's file or folder)
  RepositoryOptions options_;
  std::vector<std::unique_ptr<ServedModel>> models_;
  // Behind pointers so the repository can move (scan returns it); models_ only grows, under list_mutex_.
  std::unique_ptr<std::mutex> list_mutex_ = std::make_unique<std::mutex>();
  std::unique_ptr<std::mutex> load_mutex_ = std::make_unique<std::mutex>();  ///< one load or unload at a time
  std::unique_ptr<std::atomic<bool>> all_loaded_ = std::make_unique<std::atomic<bool>>(false);
};

}  // namespace kiln::serve
