#pragma once
// Dynamic batching for a model whose inputs' first dim is the batch: requests arriving within a short delay are
// concatenated along that dim, run as one execution, and each gets its own rows of the outputs back. Requests
// are grouped only with requests of the same signature (input names, types and dims after the first, outputs
// asked for), so a batch is always a valid feed; a request's outputs are the rows the model computed for its
// rows, which for models whose batch items do not interact is what running it alone gives.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kiln/session.h"
#include "model_metrics.h"

namespace kiln::serve {

struct BatchingConfig {
  int64_t max_batch_size = 0;  ///< 0: no batching; else the largest batch one execution takes
  std::chrono::microseconds max_queue_delay{0};  ///< how long the first request of a batch waits for others
  int64_t max_queue_size = 0;  ///< requests waiting at most (0: no limit); past it a request gets 503
};

class Batcher {
 public:
  /// Starts `instances` scheduling threads (batches of the model that may run at once); `session` and `metrics`
  /// outlive the Batcher. `test_run_delay` (tests only) is slept in each execution.
  Batcher(const Session& session, BatchingConfig config, int64_t instances, std::chrono::milliseconds test_run_delay,
          std::string model_name, ModelMetrics& metrics);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  /// Queues one request (every feed's first dim is its batch size, checked by the caller to be equal and at
  /// most max_batch_size) and waits for its outputs. Throws ServeError 503 when the queue is full, and what the
  /// execution threw.
  NamedTensors run(NamedTensors feeds, std::vector<std::string> output_names);

 private:
  struct Pending {
    NamedTensors feeds;
    std::vector<std::string> output_names;
    std::string signature;
    int64_t rows = 0;
    std::chrono::steady_clock::time_point queued;
    std::promise<NamedTensors> result;
  };

  void schedule();
  void execute(std::vector<Pending>& batch);

  const Session& session_;
  const BatchingConfig config_;
  const std::chrono::milliseconds test_run_delay_;
  const std::string model_name_;
  ModelMetrics& metrics_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool gathering_ = false;  ///< one scheduling thread at a time gathers a batch; the others run theirs meanwhile
  std::vector<std::thread> threads_;
};

}  // namespace kiln::serve
