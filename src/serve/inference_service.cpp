#include "inference_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "datatype.h"
#include "serve_error.h"

namespace kiln::serve {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t micros_since(Clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

std::vector<int64_t> metadata_shape(const Shape& shape) {
  std::vector<int64_t> dims;
  for (const Dim& d : shape.dims) dims.push_back(d.is_known() ? d.value() : -1);
  return dims;
}

std::vector<TensorMetadata> describe(const std::vector<IoInfo>& infos) {
  std::vector<TensorMetadata> out;
  for (const IoInfo& io : infos) out.push_back({io.name, std::string(datatype_name(io.dtype)), metadata_shape(io.shape)});
  return out;
}

std::string names_of(const std::vector<IoInfo>& infos) {
  std::vector<std::string> names;
  for (const IoInfo& io : infos) names.push_back("'" + io.name + "'");
  return fmt::format("{}", fmt::join(names, ", "));
}

const IoInfo* find_io(const std::vector<IoInfo>& infos, std::string_view name) {
  for (const IoInfo& io : infos)
    if (io.name == name) return &io;
  return nullptr;
}

// The protocol's datatype name for messages, or kiln's own name for a type the protocol lacks.
std::string type_text(DType t) {
  std::string_view name = datatype_name(t);
  return name.empty() ? std::string(dtype_name(t)) : std::string(name);
}

void check_input(const ServedModel& model, const IoInfo& declared, const Tensor& given) {
  if (given.dtype() != declared.dtype)
    bad_request(fmt::format("input '{}' of model '{}' is {} but {} was sent", declared.name, model.name,
                            type_text(declared.dtype), type_text(given.dtype())));
  if (!declared.shape.rank_known) return;
  const std::vector<int64_t> expected = metadata_shape(declared.shape);
  bool fits = expected.size() == given.dims().size();
  for (size_t i = 0; fits && i < expected.size(); ++i) fits = expected[i] < 0 || expected[i] == given.dims()[i];
  if (!fits)
    bad_request(fmt::format("input '{}' of model '{}' has shape [{}] (-1: any size) but [{}] was sent",
                            declared.name, model.name, fmt::join(expected, ", "), fmt::join(given.dims(), ", ")));
}

// The batch size of a request to a batching model: every input's first dim, equal and within max_batch_size.
int64_t batch_rows(const ServedModel& m, const BatchingConfig& batching, const NamedTensors& feeds) {
  int64_t rows = -1;
  for (const auto& [name, t] : feeds) {
    if (t.rank() == 0) bad_request(fmt::format("input '{}' of model '{}' needs a batch dim first", name, m.name));
    if (rows >= 0 && t.dims()[0] != rows)
      bad_request(fmt::format("the inputs of model '{}' must share their first (batch) dim; input '{}' has {} where "
                              "another has {}", m.name, name, t.dims()[0], rows));
    rows = t.dims()[0];
  }
  if (rows < 1 || rows > batching.max_batch_size)
    bad_request(fmt::format("a batch of {} is outside model '{}''s 1..{} (its max_batch_size)", rows, m.name,
                            batching.max_batch_size));
  return rows;
}

// What a request runs on: the model's current load, or 503 naming why there is none.
std::shared_ptr<const LoadedModel> serving(const ServedModel& m) {
  if (auto loaded = m.loaded()) return loaded;
  if (m.state() == ModelState::kLoading)
    throw ServeError(Status::kUnavailable, fmt::format("model '{}' is still loading", m.name));
  throw ServeError(Status::kUnavailable, fmt::format("model '{}' is not loaded ({}); load it with POST "
                                                     "v2/repository/models/{}/load", m.name,
                                                     model_state_name(m.state()), m.name));
}

// Holds one of an unbatched model's instance slots (config.json "instances") for one run.
class InstanceSlot {
 public:
  explicit InstanceSlot(FifoSlots* slots) : slots_(slots) {
    if (slots_) slots_->acquire();
  }
  ~InstanceSlot() {
    if (slots_) slots_->release();
  }
  InstanceSlot(const InstanceSlot&) = delete;
  InstanceSlot& operator=(const InstanceSlot&) = delete;

 private:
  FifoSlots* slots_;
};

// Counts a run in LoadedModel::running while it lasts; says whether another was going when it started.
class RunningCount {
 public:
  explicit RunningCount(std::atomic<int>& running)
      : running_(running), others_(running.fetch_add(1, std::memory_order_relaxed) > 0) {}
  ~RunningCount() { running_.fetch_sub(1, std::memory_order_relaxed); }
  RunningCount(const RunningCount&) = delete;
  RunningCount& operator=(const RunningCount&) = delete;
  bool others() const { return others_; }

 private:
  std::atomic<int>& running_;
  bool others_;
};

}  // namespace

void check_repository_parameter(std::string_view key) {
  if (key != "unload_dependents")
    bad_request(fmt::format("repository parameter '{}' is not supported by kiln (it takes unload_dependents only; "
                            "change a model's config.json and load it again instead)", key));
}

bool InferenceService::ready() const {
  // Models the repository API unloaded on purpose do not make the server unready (as in Triton).
  return !shutting_down_ && repository_.all_loaded();
}

ServerMetadata InferenceService::server_metadata() const {
  // binary_tensor_data: Triton's binary tensor extension on HTTP (Inference-Header-Content-Length);
  // model_repository: Triton's model repository extension (index, load, unload) on HTTP and gRPC.
  return {"kiln", "0.1.0", {"binary_tensor_data", "model_repository"}};
}

std::vector<RepositoryEntry> InferenceService::repository_index(bool ready_only) const {
  std::vector<RepositoryEntry> index;
  for (const ServedModel* m : repository_.models()) {
    const ModelState state = m->state();
    if (ready_only && state != ModelState::kReady) continue;
    index.push_back({m->name, m->version, std::string(model_state_name(state)), m->reason()});
  }
  return index;
}

void InferenceService::load_model(const std::string& name) const {
  if (shutting_down_) throw ServeError(Status::kUnavailable, "the server is shutting down");
  repository_.load(name);
}

void InferenceService::unload_model(const std::string& name) const { repository_.unload(name); }

const ServedModel& InferenceService::model(std::string_view name, std::string_view version) const {
  if (const ServedModel* m = repository_.find(name, version)) return *m;
  if (!version.empty() && repository_.find(name))
    throw ServeError(Status::kNotFound, fmt::format("model '{}' has no version '{}' (it has version '1')", name,
                                                    version));
  throw ServeError(Status::kNotFound, fmt::format("unknown model '{}'", name));
}

ModelMetadata InferenceService::model_metadata(std::string_view name, std::string_view version) const {
  const ServedModel& m = model(name, version);
  const std::shared_ptr<const LoadedModel> loaded = serving(m);
  return {m.name, {m.version}, "kiln_onnx", describe(loaded->session->inputs()),
          describe(loaded->session->outputs())};
}

bool InferenceService::model_ready(std::string_view name, std::string_view version) const {
  const ServedModel* m = repository_.find(name, version);
  return m && m->loaded() && !shutting_down_;
}

InferResponse InferenceService::infer(InferRequest request) const {
  const ServedModel& m = model(request.model_name, request.model_version);
  ModelMetrics& metrics = m.metrics;
  const auto start = Clock::now();
  metrics.pending.fetch_add(1, std::memory_order_relaxed);
  try {
    InferResponse response = run(m, std::move(request));
    metrics.request_success.fetch_add(1, std::memory_order_relaxed);
    metrics.request_us.fetch_add(micros_since(start), std::memory_order_relaxed);
    metrics.pending.fetch_sub(1, std::memory_order_relaxed);
    return response;
  } catch (...) {
    metrics.request_failure.fetch_add(1, std::memory_order_relaxed);
    metrics.request_us.fetch_add(micros_since(start), std::memory_order_relaxed);
    metrics.pending.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
}

InferResponse InferenceService::run(const ServedModel& m, InferRequest request) const {
  // Held to the end: an unload or reload meanwhile lets this request finish on what it started with.
  const std::shared_ptr<const LoadedModel> loaded = serving(m);
  ModelMetrics& metrics = m.metrics;
  auto phase_start = Clock::now();
  const Session& session = *loaded->session;

  NamedTensors feeds;
  for (InferInput& in : request.inputs) {
    const IoInfo* declared = find_io(session.inputs(), in.name);
    if (!declared) declared = find_io(session.overridable_inputs(), in.name);
    if (!declared)
      bad_request(fmt::format("model '{}' has no input '{}'; its inputs are {}", m.name, in.name,
                              names_of(session.inputs())));
    for (const auto& [name, tensor] : feeds)
      if (name == in.name) bad_request(fmt::format("input '{}' is given twice", in.name));
    check_input(m, *declared, in.tensor);
    feeds.emplace_back(in.name, std::move(in.tensor));
  }
  for (const IoInfo& io : session.inputs())
    if (std::none_of(feeds.begin(), feeds.end(), [&](const auto& f) { return f.first == io.name; }))
      bad_request(fmt::format("input '{}' of model '{}' is missing; the model needs {}", io.name, m.name,
                              names_of(session.inputs())));

  RunOptions options;
  std::vector<RequestedOutput> wanted = request.outputs;
  if (wanted.empty())
    for (const IoInfo& io : session.outputs()) wanted.push_back({io.name, request.binary_outputs});
  for (const RequestedOutput& out : wanted) {
    if (!find_io(session.outputs(), out.name))
      bad_request(fmt::format("model '{}' has no output '{}'; its outputs are {}", m.name, out.name,
                              names_of(session.outputs())));
    options.output_names.push_back(out.name);
  }

  metrics.input_us.fetch_add(micros_since(phase_start), std::memory_order_relaxed);
  phase_start = Clock::now();
  // A batching model counts each batch item as an inference (Triton's nv_inference_count); others count 1.
  int64_t inferences = 1;
  if (loaded->batcher) inferences = batch_rows(m, loaded->batching, feeds);
  NamedTensors results;
  try {
    if (loaded->batcher) {
      results = loaded->batcher->run(std::move(feeds), options.output_names);
    } else {
      InstanceSlot slot(loaded->run_slots.get());
      const RunningCount running(loaded->running);
      // With one instance, requests waiting for a worker cannot start beside this run (they would wait for its
      // slot), so they are no reason to leave the pool idle: the run takes every thread, as in-process. Before,
      // `"instances": 1` with 4 or 16 clients ran each request on one thread: 47-50 % of in-process throughput.
      const bool only_instance = loaded->run_slots && loaded->run_slots->slots() == 1;
      options.calling_thread_only =
          running.others() || (!only_instance && queued_.load(std::memory_order_relaxed) > 0);
      if (options.calling_thread_only) metrics.own_thread_exec_count.fetch_add(1, std::memory_order_relaxed);
      metrics.exec_count.fetch_add(1, std::memory_order_relaxed);
      if (loaded->test_run_delay.count() > 0) std::this_thread::sleep_for(loaded->test_run_delay);
      results = session.run(feeds, options);
    }
  } catch (const Error& e) {
    // A feed the model refuses is the caller's to fix; anything else is the server's failure.
    const bool callers = e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kLimitExceeded;
    throw ServeError(callers ? Status::kBadRequest : Status::kInternal,
                     fmt::format("model '{}' failed: {}", m.name, e.what()));
  }
  metrics.infer_us.fetch_add(micros_since(phase_start), std::memory_order_relaxed);
  metrics.inference_count.fetch_add(static_cast<uint64_t>(inferences), std::memory_order_relaxed);
  phase_start = Clock::now();

  InferResponse response{m.name, m.version, std::move(request.id), {}};
  for (size_t i = 0; i < results.size(); ++i) {
    Tensor& t = results[i].second;
    if (!t.is_tensor() || datatype_name(t.dtype()).empty())
      throw ServeError(Status::kInternal, fmt::format("output '{}' of model '{}' is a {} of {}, which the protocol "
                                                      "cannot carry", results[i].first, m.name,
                                                      tensor_kind_name(t.kind()), dtype_name(t.dtype())));
    response.outputs.push_back({results[i].first, std::move(t), wanted[i].binary});
  }
  metrics.output_us.fetch_add(micros_since(phase_start), std::memory_order_relaxed);
  return response;
}

}  // namespace kiln::serve
