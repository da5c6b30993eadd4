#include "model_repository.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <utility>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "serve_error.h"

namespace kiln::serve {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(std::string message) { throw Error(ErrorCode::kInvalidArgument, std::move(message)); }

int64_t whole_number(const fs::path& file, const std::string& key, const rapidjson::Value& v) {
  if (!v.IsInt64() || v.GetInt64() < 0)
    fail(fmt::format("model config '{}': \"{}\" must be a whole number >= 0", file.string(), key));
  return v.GetInt64();
}

// Applies a model folder's config.json to `model`.
void apply_config(const fs::path& file, ServedModel& model) {
  SessionOptions& options = model.options;
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) fail(fmt::format("cannot read model config '{}'", file.string()));
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  if (doc.HasParseError())
    fail(fmt::format("model config '{}' is not JSON: {} at byte {}", file.string(),
                     rapidjson::GetParseError_En(doc.GetParseError()), doc.GetErrorOffset()));
  if (!doc.IsObject()) fail(fmt::format("model config '{}' must be a JSON object", file.string()));
  for (const auto& member : doc.GetObject()) {
    const std::string key = member.name.GetString();
    if (key == "threads") {
      if (!member.value.IsInt() || member.value.GetInt() < 0)
        fail(fmt::format("model config '{}': \"threads\" must be a whole number >= 0 (0 = the CPUs the process "
                         "may use)", file.string()));
      options.intra_op_threads = member.value.GetInt();
    } else if (key == "instances") {
      model.instances = whole_number(file, key, member.value);
      if (model.instances == 0)
        fail(fmt::format("model config '{}': \"instances\" must be at least 1 (leave it out for no limit)",
                         file.string()));
    } else if (key == "max_batch_size") {
      model.batching.max_batch_size = whole_number(file, key, member.value);
    } else if (key == "max_queue_delay_us") {
      model.batching.max_queue_delay = std::chrono::microseconds(whole_number(file, key, member.value));
    } else if (key == "max_queue_size") {
      model.batching.max_queue_size = whole_number(file, key, member.value);
    } else {
      fail(fmt::format("model config '{}': unknown key \"{}\" (known: \"threads\", \"instances\", "
                       "\"max_batch_size\", \"max_queue_delay_us\", \"max_queue_size\")", file.string(), key));
    }
  }
}

std::unique_ptr<ServedModel> model_entry(std::string name, const fs::path& onnx, SessionOptions options) {
  auto model = std::make_unique<ServedModel>();
  model->name = std::move(name);
  model->path = onnx.string();
  model->options = std::move(options);
  return model;
}

std::vector<fs::path> onnx_files(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(folder))
    if (e.is_regular_file() && e.path().extension() == ".onnx") files.push_back(e.path());
  return files;
}

// Batching stacks requests along every input's first dim: that dim must be free to vary.
void check_batchable(const Session& session) {
  for (const IoInfo& in : session.inputs())
    if (!in.shape.rank_known || in.shape.rank() == 0 || in.shape.dims[0].is_known())
      fail(fmt::format("max_batch_size is set but input '{}' has {} as its shape: batching needs every input's "
                       "first dim to be variable (a dynamic axis such as 'batch')", in.name, in.shape.str()));
}

}  // namespace

ModelRepository ModelRepository::scan(const std::string& path, const RepositoryOptions& options) {
  ModelRepository repo;
  repo.root_ = path;
  repo.options_ = options;
  const fs::path root(path);
  const auto single = [&](const fs::path& onnx) {
    return model_entry(options.model_name.empty() ? onnx.stem().string() : options.model_name, onnx,
                       options.session);
  };
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    if (root.extension() != ".onnx") fail(fmt::format("'{}' is neither an .onnx file nor a model folder", path));
    repo.models_.push_back(single(root));
    return repo;
  }
  if (!fs::is_directory(root, ec))
    fail(fmt::format("model repository '{}' does not exist (give a folder with one sub-folder per model, or an "
                     ".onnx file)", path));
  // A folder holding one .onnx file itself is one model's folder (what KServe mounts at /mnt/models).
  if (const std::vector<fs::path> own = onnx_files(root); !own.empty()) {
    if (own.size() > 1)
      fail(fmt::format("'{}' holds {} .onnx files; a model folder holds exactly one (a repository holds one "
                       "sub-folder per model)", path, own.size()));
    repo.models_.push_back(single(own.front()));
    if (fs::exists(root / "config.json")) apply_config(root / "config.json", *repo.models_.back());
    return repo;
  }
  repo.is_repository_ = true;
  std::vector<fs::path> folders;
  for (const fs::directory_entry& e : fs::directory_iterator(root))
    if (e.is_directory()) folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());
  for (const fs::path& folder : folders) {
    const std::vector<fs::path> files = onnx_files(folder);
    if (files.empty()) continue;  // not a model folder (a README, a version control folder, ...)
    if (files.size() > 1)
      fail(fmt::format("model folder '{}' holds {} .onnx files; a model folder holds exactly one",
                       folder.string(), files.size()));
    auto model = model_entry(folder.filename().string(), files.front(), options.session);
    if (fs::exists(folder / "config.json")) apply_config(folder / "config.json", *model);
    repo.models_.push_back(std::move(model));
  }
  if (repo.models_.empty())
    fail(fmt::format("model repository '{}' holds no model: expected sub-folders each holding one .onnx file",
                     path));
  if (!options.model_name.empty())
    fail(fmt::format("--model-name names the one model of a file or model folder, but '{}' is a repository of {} "
                     "models (named by their folders)", path, repo.models_.size()));
  return repo;
}

std::string_view model_state_name(ModelState state) {
  switch (state) {
    case ModelState::kLoading: return "LOADING";
    case ModelState::kReady: return "READY";
    case ModelState::kUnloaded: return "UNLOADED";
    case ModelState::kUnavailable: return "UNAVAILABLE";
  }
  return "UNAVAILABLE";
}

std::shared_ptr<const LoadedModel> ServedModel::loaded() const {
  std::lock_guard lock(mutex_);
  return loaded_;
}

ModelState ServedModel::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::string ServedModel::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

void ServedModel::publish(std::shared_ptr<const LoadedModel> loaded, ModelState state, std::string reason) {
  std::shared_ptr<const LoadedModel> old;
  {
    std::lock_guard lock(mutex_);
    old = std::exchange(loaded_, std::move(loaded));
    state_ = state;
    reason_ = std::move(reason);
  }
  // `old` is released here, outside the lock: when no request holds it any more, its batcher stops (finishing
  // what it queued) and its session goes.
}

namespace {

// A session (and batcher, slots) for `m` as configured now. Throws kiln::Error naming the model.
std::shared_ptr<const LoadedModel> load_model(ServedModel& m) {
  try {
    auto loaded = std::make_shared<LoadedModel>();
    loaded->session = std::make_unique<Session>(Session::from_file(m.path, m.options));
    loaded->batching = m.batching;
    if (const char* delay = std::getenv("KILN_SERVE_TEST_RUN_DELAY_MS"))
      loaded->test_run_delay = std::chrono::milliseconds(std::atoi(delay));
    if (m.batching.max_batch_size > 0) {
      check_batchable(*loaded->session);
      loaded->batcher = std::make_unique<Batcher>(*loaded->session, m.batching, std::max<int64_t>(m.instances, 1),
                                                  loaded->test_run_delay, m.name, m.metrics);
    } else if (m.instances > 0) {
      loaded->run_slots = std::make_unique<FifoSlots>(m.instances);
    }
    return loaded;
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("model '{}' ({}) cannot be served: {}", m.name, m.path, e.what()));
  }
}

}  // namespace

void ModelRepository::load_all() {
  std::lock_guard load_lock(*load_mutex_);
  // Test-only: a delay before each model's load, so the tests can see readiness false while models load.
  const char* delay = std::getenv("KILN_SERVE_TEST_LOAD_DELAY_MS");
  for (const ServedModel* listed : models()) {
    if (delay) std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
    ServedModel& m = *find_mutable(listed->name);
    m.publish(load_model(m), ModelState::kReady);
  }
  all_loaded_->store(true, std::memory_order_release);
}

std::unique_ptr<ServedModel> ModelRepository::read_model(const std::string& name) const {
  if (!is_repository_) {
    // One model's file or folder: its own name only, read again from where it was found.
    const ServedModel* only = models_.front().get();
    if (name != only->name) return nullptr;
    const fs::path root(root_);
    if (fs::is_regular_file(root)) return model_entry(name, root, options_.session);
    const std::vector<fs::path> files = onnx_files(root);
    if (files.size() != 1)
      fail(fmt::format("'{}' holds {} .onnx files; a model folder holds exactly one", root_, files.size()));
    auto model = model_entry(name, files.front(), options_.session);
    if (fs::exists(root / "config.json")) apply_config(root / "config.json", *model);
    return model;
  }
  const fs::path folder = fs::path(root_) / name;
  std::error_code ec;
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
      !fs::is_directory(folder, ec))
    return nullptr;
  const std::vector<fs::path> files = onnx_files(folder);
  if (files.size() != 1)
    fail(fmt::format("model folder '{}' holds {} .onnx files; a model folder holds exactly one", folder.string(),
                     files.size()));
  auto model = model_entry(name, files.front(), options_.session);
  if (fs::exists(folder / "config.json")) apply_config(folder / "config.json", *model);
  return model;
}

void ModelRepository::load(const std::string& name) {
  std::lock_guard load_lock(*load_mutex_);
  ServedModel* m = find_mutable(name);
  std::unique_ptr<ServedModel> fresh;
  try {
    fresh = read_model(name);
  } catch (const Error& e) {
    if (m && !m->loaded()) m->publish(nullptr, ModelState::kUnavailable, e.what());
    throw ServeError(Status::kBadRequest, fmt::format("failed to load '{}': {}", name, e.what()));
  }
  if (!fresh)
    throw ServeError(Status::kBadRequest, fmt::format("failed to load '{}': the repository '{}' has no such model",
                                                      name, root_));
  if (!m) {
    std::lock_guard list_lock(*list_mutex_);
    models_.push_back(std::move(fresh));
    m = models_.back().get();
  } else {
    // Settings are read by loads only, under load_lock; requests read their LoadedModel's.
    m->path = fresh->path;
    m->options = fresh->options;
    m->batching = fresh->batching;
    m->instances = fresh->instances;
  }
  try {
    m->publish(load_model(*m), ModelState::kReady);
  } catch (const Error& e) {
    if (!m->loaded()) m->publish(nullptr, ModelState::kUnavailable, e.what());
    throw ServeError(Status::kBadRequest, fmt::format("failed to load '{}': {}", name, e.what()));
  }
}

void ModelRepository::unload(const std::string& name) {
  std::lock_guard load_lock(*load_mutex_);
  ServedModel* m = find_mutable(name);
  if (!m) throw ServeError(Status::kBadRequest, fmt::format("failed to unload '{}': the repository '{}' has no "
                                                            "such model", name, root_));
  m->publish(nullptr, ModelState::kUnloaded);
}

ServedModel* ModelRepository::find_mutable(std::string_view name) const {
  std::lock_guard lock(*list_mutex_);
  for (const auto& m : models_)
    if (m->name == name) return m.get();
  return nullptr;
}

const ServedModel* ModelRepository::find(std::string_view name, std::string_view version) const {
  const ServedModel* m = find_mutable(name);
  return m && (version.empty() || version == m->version) ? m : nullptr;
}

std::vector<const ServedModel*> ModelRepository::models() const {
  std::lock_guard lock(*list_mutex_);
  std::vector<const ServedModel*> all;
  for (const auto& m : models_) all.push_back(m.get());
  return all;
}

}  // namespace kiln::serve
