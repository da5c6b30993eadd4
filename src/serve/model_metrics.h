#pragma once
// Per-model counters in Triton's metric names (so dashboards and alerts written for Triton read kiln's),
// kept with relaxed atomics: each is read and written on its own, and a scrape needs no consistent snapshot.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::serve {

struct ModelMetrics {
  std::atomic<uint64_t> request_success{0};  ///< nv_inference_request_success
  std::atomic<uint64_t> request_failure{0};  ///< nv_inference_request_failure
  std::atomic<uint64_t> inference_count{0};  ///< nv_inference_count: inferences (batch items) answered
  std::atomic<uint64_t> exec_count{0};       ///< nv_inference_exec_count: model executions
  std::atomic<uint64_t> request_us{0};       ///< nv_inference_request_duration_us: whole requests, summed
  std::atomic<uint64_t> queue_us{0};         ///< nv_inference_queue_duration_us: waiting before execution
  std::atomic<uint64_t> input_us{0};         ///< nv_inference_compute_input_duration_us: checking and feeding
  std::atomic<uint64_t> infer_us{0};         ///< nv_inference_compute_infer_duration_us: the model's run
  std::atomic<uint64_t> output_us{0};        ///< nv_inference_compute_output_duration_us: gathering outputs
  std::atomic<int64_t> pending{0};           ///< nv_inference_pending_request_count: in the server now
  std::atomic<uint64_t> own_thread_exec_count{0};  ///< kiln_inference_own_thread_exec_count: runs kept off the pool
};

struct LabelledMetrics {
  std::string model, version;
  const ModelMetrics* metrics;
};

/// The Prometheus text exposition (format 0.0.4) of every model's counters, labelled model and version.
std::string prometheus_text(const std::vector<LabelledMetrics>& models);

}  // namespace kiln::serve
