#include "model_metrics.h"

#include <fmt/format.h>

namespace kiln::serve {

namespace {

struct Family {
  const char* name;
  const char* type;
  const char* help;
  uint64_t (*read)(const ModelMetrics&);
};

// Triton's names, types and meanings.
const Family kFamilies[] = {
    {"nv_inference_request_success", "counter", "Number of successful inference requests, all batch sizes",
     [](const ModelMetrics& m) { return m.request_success.load(std::memory_order_relaxed); }},
    {"nv_inference_request_failure", "counter", "Number of failed inference requests, all batch sizes",
     [](const ModelMetrics& m) { return m.request_failure.load(std::memory_order_relaxed); }},
    {"nv_inference_count", "counter", "Number of inferences performed (each batch item counts)",
     [](const ModelMetrics& m) { return m.inference_count.load(std::memory_order_relaxed); }},
    {"nv_inference_exec_count", "counter", "Number of model executions performed",
     [](const ModelMetrics& m) { return m.exec_count.load(std::memory_order_relaxed); }},
    {"nv_inference_request_duration_us", "counter", "Cumulative inference request duration in microseconds",
     [](const ModelMetrics& m) { return m.request_us.load(std::memory_order_relaxed); }},
    {"nv_inference_queue_duration_us", "counter", "Cumulative inference queuing duration in microseconds",
     [](const ModelMetrics& m) { return m.queue_us.load(std::memory_order_relaxed); }},
    {"nv_inference_compute_input_duration_us", "counter",
     "Cumulative compute input duration in microseconds",
     [](const ModelMetrics& m) { return m.input_us.load(std::memory_order_relaxed); }},
    {"nv_inference_compute_infer_duration_us", "counter",
     "Cumulative compute inference duration in microseconds",
     [](const ModelMetrics& m) { return m.infer_us.load(std::memory_order_relaxed); }},
    {"nv_inference_compute_output_duration_us", "counter",
     "Cumulative inference compute output duration in microseconds",
     [](const ModelMetrics& m) { return m.output_us.load(std::memory_order_relaxed); }},
    // kiln's own: how often the server kept a run off the session's thread pool (InferenceService::run).
    {"kiln_inference_own_thread_exec_count", "counter",
     "Number of unbatched model executions run on their request's thread alone (RunOptions::calling_thread_only)",
     [](const ModelMetrics& m) { return m.own_thread_exec_count.load(std::memory_order_relaxed); }},
};

// A label value with Prometheus's escapes (backslash, double quote, newline).
std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string prometheus_text(const std::vector<LabelledMetrics>& models) {
  std::string text;
  for (const Family& f : kFamilies) {
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
    for (const LabelledMetrics& m : models)
      text += fmt::format("{}{{model=\"{}\",version=\"{}\"}} {}\n", f.name, escaped(m.model), escaped(m.version),
                          f.read(*m.metrics));
  }
  text += "# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution "
          "per-model.\n# TYPE nv_inference_pending_request_count gauge\n";
  for (const LabelledMetrics& m : models)
    text += fmt::format("nv_inference_pending_request_count{{model=\"{}\",version=\"{}\"}} {}\n", escaped(m.model),
                        escaped(m.version), m.metrics->pending.load(std::memory_order_relaxed));
  return text;
}

}  // namespace kiln::serve
