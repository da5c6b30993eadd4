// The whole pipeline on the model suite's real PyTorch exports (tests/models, cached in build/model-cache by
// the model tests or export_models.py), at level 1 (kiln optimize's standard ONNX) and level 2 (a session):
// after every pass the graph validator runs and the graph plans at the test shapes, and the outputs with every
// pass on agree with the graph as loaded (relative L2 <= 1e-5).
// Skipped when the cache holds no models (KILN_MODEL_CACHE points elsewhere).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "nn_test_util.h"
#include "onnx/loader.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

std::filesystem::path model_cache() {
  if (const char* env = std::getenv("KILN_MODEL_CACHE")) return env;
  return std::filesystem::path(KILN_SOURCE_DIR) / "build" / "model-cache";
}

// Sizes for the suite's symbolic dims, and inputs like run_model_test.py makes them.
int64_t size_of(const Dim& d) {
  if (d.is_known()) return d.value();
  const std::string& s = d.symbol_name();
  if (s == "batch") return 2;
  if (s == "height" || s == "width") return 64;
  return 7;  // sequence, time, ...
}

NamedTensors inputs_for(const ir::Model& m, std::mt19937& rng) {
  NamedTensors feeds;
  const ir::Graph& g = *m.graph;
  for (int id : g.required_inputs()) {
    const ir::Value& v = g.value(id);
    std::vector<int64_t> dims;
    for (const Dim& d : v.type.shape.dims) dims.push_back(size_of(d));
    if (v.type.dtype == DType::kFloat32) {
      feeds.emplace_back(v.name, random_tensor(dims, rng));
    } else {
      Tensor t(DType::kInt64, dims);
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data<int64_t>()[i] = v.name == "attention_mask" ? (i % dims.back() < dims.back() - 1 || i < dims.back()) : (i * 37) % 1000;
      feeds.emplace_back(v.name, t);
    }
  }
  return feeds;
}

}  // namespace

TEST(PassesOnModels, SuiteModelsValidateAfterEveryPassAndKeepTheirOutputsAtBothLevels) {
  std::vector<std::filesystem::path> models;
  if (std::filesystem::is_directory(model_cache()))
    for (const auto& e : std::filesystem::directory_iterator(model_cache()))
      if (e.path().extension() == ".onnx") models.push_back(e.path());
  if (models.empty()) GTEST_SKIP() << "no exported models in " << model_cache() << " (run the model tests first)";
  std::sort(models.begin(), models.end());
  for (const auto& path : models) {
    SCOPED_TRACE(path.filename().string());
    const ir::Model original = onnx::load_model(path.string());
    std::mt19937 rng(17);
    const NamedTensors feeds = inputs_for(original, rng);
    // Level 1 is what `kiln optimize` writes (standard ONNX only); level 2 is what a kiln session runs.
    for (const passes::Level level : {passes::Level::kBasic, passes::Level::kAll}) {
      SCOPED_TRACE(level == passes::Level::kBasic ? "level 1" : "level 2");
      ir::Model optimized = clone_model(original);
      passes::PipelineOptions options = checked_pipeline(feeds);  // validates and re-plans after every pass
      options.level = level;
      const std::vector<passes::PassRun> runs = passes::optimize(optimized, options);
      std::string report;
      for (const passes::PassRun& r : runs) EXPECT_EQ(r.error, "") << r.name;
      for (const passes::PassRun& r : runs)
        if (r.changed)
          report += fmt::format(" {} {:+}{}", r.name,
                                static_cast<int64_t>(r.nodes_after) - static_cast<int64_t>(r.nodes_before),
                                r.kiln_nodes_after > r.kiln_nodes_before
                                    ? fmt::format("(+{} fused)", r.kiln_nodes_after - r.kiln_nodes_before) : "");
      std::printf("  %s level %d: %zu -> %zu nodes:%s\n", path.filename().c_str(), static_cast<int>(level),
                  original.graph->nodes.size(), optimized.graph->nodes.size(), report.c_str());
      if (level == passes::Level::kBasic) {
        for (const ir::Node& n : optimized.graph->nodes) EXPECT_NE(n.domain, passes::kKilnDomain) << n.name;
      }
      const NamedTensors want = run_unoptimized(original, feeds);
      const NamedTensors got = run_unoptimized(optimized, feeds);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].second.dims(), want[i].second.dims()) << want[i].first;
        EXPECT_LE(rel_l2(got[i].second, want[i].second), 1e-5) << want[i].first;
      }
    }
  }
}
