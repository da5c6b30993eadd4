#include "model_repository.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>

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
    } else if (key == "max_batch_size") {
      model.batching.max_batch_size = whole_number(file, key, member.value);
    } else if (key == "max_queue_delay_us") {
      model.batching.max_queue_delay = std::chrono::microseconds(whole_number(file, key, member.value));
    } else if (key == "max_queue_size") {
      model.batching.max_queue_size = whole_number(file, key, member.value);
    } else {
      fail(fmt::format("model config '{}': unknown key \"{}\" (known: \"threads\", \"max_batch_size\", "
                       "\"max_queue_delay_us\", \"max_queue_size\")", file.string(), key));
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
void check_batchable(const ServedModel& m) {
  for (const IoInfo& in : m.session->inputs())
    if (!in.shape.rank_known || in.shape.rank() == 0 || in.shape.dims[0].is_known())
      fail(fmt::format("max_batch_size is set but input '{}' has {} as its shape: batching needs every input's "
                       "first dim to be variable (a dynamic axis such as 'batch')", in.name, in.shape.str()));
}

}  // namespace

ModelRepository ModelRepository::scan(const std::string& path, const RepositoryOptions& options) {
  ModelRepository repo;
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

void ModelRepository::load_all() {
  // Test-only: a delay before each model's load, so the tests can see readiness false while models load.
  const char* delay = std::getenv("KILN_SERVE_TEST_LOAD_DELAY_MS");
  for (const auto& m : models_) {
    if (delay) std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
    try {
      m->session = std::make_unique<Session>(Session::from_file(m->path, m->options));
      if (m->batching.max_batch_size > 0) {
        check_batchable(*m);
        m->batcher = std::make_unique<Batcher>(*m->session, m->batching, m->name, m->metrics);
      }
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("model '{}' ({}) cannot be served: {}", m->name, m->path, e.what()));
    }
    m->ready.store(true, std::memory_order_release);
  }
}

const ServedModel* ModelRepository::find(std::string_view name, std::string_view version) const {
  for (const auto& m : models_)
    if (m->name == name) return version.empty() || version == m->version ? m.get() : nullptr;
  return nullptr;
}

}  // namespace kiln::serve
