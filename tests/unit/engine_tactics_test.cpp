// Tactics in engines (section 6, api/engine_tactics.h): kiln build times each candidate tactic of the nodes that
// offer a choice (Conv: Winograd F(4x4, 3x3), F(2x2, 3x3), the implicit GEMM) and records the fastest; the load
// runs the recorded one, timing nothing; every candidate, forced, gives the ONNX session's outputs within the
// bound; the timing cache makes a rebuild time nothing and a damaged or foreign cache is ignored with a warning;
// hostile tactics sections and cache files are refused, never read past. No test asserts a speed.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "api/engine_build.h"
#include "api/engine_tactics.h"
#include "api/session_impl.h"
#include "engine/engine_file.h"
#include "engine/tactics.h"
#include "graph_builder.h"
#include "kernels/isa.h"
#include "kernels/winograd/winograd.h"
#include "nn_test_util.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

// x [batch, 16, 20, 20] -> Conv 3x3 pad 1 (16 -> 32) -> Relu -> Conv 3x3 pad 1 (32 -> 24) -> y: two nodes whose
// candidates are all three tactics (at most 128 channels: F(4x4, 3x3) is within its error bound).
ir::Model two_conv3x3_model() {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), 16, 20, 20});
  b.initializer("W1", ramp_tensor({32, 16, 3, 3}, 1));
  b.initializer("B1", ramp_tensor({32}, 2));
  b.initializer("W2", ramp_tensor({24, 32, 3, 3}, 3));
  ir::Attribute pads;
  pads.name = "pads", pads.type = ir::AttrType::kInts, pads.ints = {1, 1, 1, 1};
  b.node("Conv", {"x", "W1", "B1"}, {"h"}, "conv_a").attributes.push_back(pads);
  b.node("Relu", {"h"}, {"r"}, "relu");
  b.node("Conv", {"r", "W2"}, {"y"}, "conv_b").attributes.push_back(pads);
  b.output("y", DType::kFloat32, {Dim::symbol("batch"), 24, 20, 20});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  return m;
}

const std::vector<std::string> kConvTactics = {"winograd-f4", "winograd-f2", "implicit-gemm"};

struct TacticsBuild {
  TempDir dir;
  std::string onnx_path;
  EngineBuildResult result;
};

std::unique_ptr<TacticsBuild> build_tactics(const std::string& cache = "", std::unique_ptr<TacticsBuild> b = nullptr) {
  if (!b) {
    b = std::make_unique<TacticsBuild>();
    b->onnx_path = b->dir / "conv.onnx";
    onnx::save_model(two_conv3x3_model(), b->onnx_path);
  }
  EngineBuildRequest request;
  request.model_path = b->onnx_path;
  request.profiles = {engine::Profile{{{"x", {1, 16, 20, 20}, {2, 16, 20, 20}, {4, 16, 20, 20}}}}};
  request.tactic_runs = 2;
  request.timing_cache = cache;
  b->result = build_engine(request);
  return b;
}

// The engine's sections with the tactics section replaced by `bytes` (checksums recomputed).
std::vector<uint8_t> with_tactics_section(const std::vector<uint8_t>& engine_bytes, std::vector<uint8_t> bytes) {
  engine::EngineView view = engine::read_engine(engine_bytes);
  std::vector<engine::Section> sections;
  for (const auto& s : view.sections)
    if (s.kind != engine::SectionKind::kTactics)
      sections.push_back({s.kind, std::vector<uint8_t>(s.bytes.begin(), s.bytes.end())});
  sections.push_back({engine::SectionKind::kTactics, std::move(bytes)});
  return engine::write_engine(sections, view.header.isa);
}

// Each top-level node's kernel description after one run at batch 2.
std::map<std::string, std::string> kernels_of(Session& s) {
  std::map<std::string, std::string> kernels;
  RunOptions options;
  options.profile = [&](const StepProfile& p) { kernels[p.node] = p.kernel; };
  s.run({{"x", ramp_tensor({2, 16, 20, 20}, 5)}}, options);
  return kernels;
}

// What a kernel description says of the tactic it runs.
std::string tactic_in(const std::string& kernel) {
  if (kernel.find("implicit-gemm") != std::string::npos) return "implicit-gemm";
  if (kernel.find(std::string("winograd ") + kernels::winograd_kernel_name(4)) != std::string::npos) return "winograd-f4";
  if (kernel.find(std::string("winograd ") + kernels::winograd_kernel_name(2)) != std::string::npos) return "winograd-f2";
  return "? " + kernel;
}

double rel_l2(const Tensor& want, const Tensor& got) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = static_cast<double>(got.data<float>()[i]) - want.data<float>()[i];
    num += d * d, den += static_cast<double>(want.data<float>()[i]) * want.data<float>()[i];
  }
  return std::sqrt(num / den);
}

// The engine's outputs against the ONNX session's (prepare's rules there) at batch 1 and 3: within the bound.
void expect_outputs_near(Session& engine_session, const std::string& onnx_path) {
  Session onnx_session = Session::from_file(onnx_path);
  for (int64_t batch : {1, 3}) {
    NamedTensors feed = {{"x", ramp_tensor({batch, 16, 20, 20}, 5)}};
    NamedTensors want = onnx_session.run(feed), got = engine_session.run(feed);
    ASSERT_EQ(got[0].second.dims(), want[0].second.dims());
    EXPECT_LE(rel_l2(want[0].second, got[0].second), kTacticBound) << "batch " << batch;
  }
}

}  // namespace

TEST(EngineTactics, TheBuildRecordsATimedTacticPerConvAndTheLoadRunsIt) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is prepared";
  auto b = build_tactics();
  const auto& tactics = b->result.tactics;
  ASSERT_EQ(tactics.size(), 2u);
  for (const engine::TacticRecord& r : tactics) {
    ASSERT_EQ(r.candidates.size(), kConvTactics.size()) << r.node_name;
    for (size_t c = 0; c < kConvTactics.size(); ++c) {
      EXPECT_EQ(r.candidates[c].name, kConvTactics[c]);
      EXPECT_TRUE(r.candidates[c].matched) << r.node_name << " " << r.candidates[c].name;
      EXPECT_GE(r.candidates[c].ms, 0) << r.node_name << " " << r.candidates[c].name;
    }
    EXPECT_FALSE(r.from_cache);
    // The fastest of the candidates, or the rule's when the whole network was no faster with the fastest (facts
    // of the record, not claims about speed).
    const auto chosen = std::find_if(r.candidates.begin(), r.candidates.end(),
                                     [&](const auto& x) { return x.name == r.chosen; });
    ASSERT_NE(chosen, r.candidates.end()) << r.chosen;
    if (b->result.kept_rules) {
      EXPECT_EQ(r.chosen, r.rule);
    } else {
      for (const engine::TacticCandidate& c : r.candidates) EXPECT_LE(chosen->ms, c.ms) << c.name;
    }
  }
  EXPECT_EQ(b->result.tactics_measured, 6u);
  EXPECT_EQ(b->result.tactics_from_cache, 0u);
  const bool differed = b->result.network_rule_ms >= 0;  // some node's fastest was not the rule's
  EXPECT_EQ(differed, b->result.kept_rules || std::any_of(tactics.begin(), tactics.end(), [](const auto& r) {
                        return r.chosen != r.rule;
                      }));

  Session s = Session::from_bytes(b->result.bytes);
  ASSERT_EQ(s.impl().engine->tactics.size(), 2u);
  EXPECT_EQ(s.impl().engine->tactics_applied, 2u);
  EXPECT_EQ(s.impl().engine->tactics_not_applied, 0u);
  std::map<std::string, std::string> kernels = kernels_of(s);
  for (const engine::TacticRecord& r : tactics) EXPECT_EQ(tactic_in(kernels[r.node_name]), r.chosen) << r.node_name;
  expect_outputs_near(s, b->onnx_path);
}

TEST(EngineTactics, EveryCandidateRecordedIsWhatTheLoadRunsWithinTheBound) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is prepared";
  auto b = build_tactics();
  for (const std::string& forced : kConvTactics) {
    std::vector<engine::TacticRecord> records = b->result.tactics;
    for (engine::TacticRecord& r : records) r.chosen = forced;
    Session s = Session::from_bytes(with_tactics_section(b->result.bytes, engine::encode_tactics(records)));
    EXPECT_EQ(s.impl().engine->tactics_applied, 2u) << forced;
    std::map<std::string, std::string> kernels = kernels_of(s);
    for (const engine::TacticRecord& r : records) EXPECT_EQ(tactic_in(kernels[r.node_name]), forced) << r.node_name;
    expect_outputs_near(s, b->onnx_path);
  }
}

TEST(EngineTactics, ARecordThatNoLongerFitsLeavesTheRuleAndRunsTheSame) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is prepared";
  auto b = build_tactics();
  std::vector<engine::TacticRecord> records = b->result.tactics;
  records[0].chosen = "winograd-f9";        // a candidate this kiln does not offer
  records[1].node_name = "another node";    // a record of another node at this number
  Session s = Session::from_bytes(with_tactics_section(b->result.bytes, engine::encode_tactics(records)));
  EXPECT_EQ(s.impl().engine->tactics_applied, 0u);
  EXPECT_EQ(s.impl().engine->tactics_not_applied, 2u);
  Session onnx_session = Session::from_file(b->onnx_path);
  std::map<std::string, std::string> rule = kernels_of(onnx_session), got = kernels_of(s);
  for (const engine::TacticRecord& r : b->result.tactics) EXPECT_EQ(got[r.node_name], rule[r.node_name]);
}

TEST(EngineTactics, ARebuildWithTheTimingCacheTimesNothingAndChoosesTheSame) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is prepared";
  auto b = build_tactics();
  const std::string cache = b->dir / "timings.cache";
  b = build_tactics(cache, std::move(b));
  EXPECT_EQ(b->result.tactics_measured, 6u);
  EXPECT_TRUE(b->result.warnings.empty());
  ASSERT_TRUE(fs::exists(cache));
  const std::vector<engine::TacticRecord> first = b->result.tactics;
  b = build_tactics(cache, std::move(b));
  EXPECT_EQ(b->result.tactics_measured, 0u);
  EXPECT_EQ(b->result.tactics_from_cache, 2u);
  ASSERT_EQ(b->result.tactics.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(b->result.tactics[i].chosen, first[i].chosen);
    EXPECT_TRUE(b->result.tactics[i].from_cache);
  }
  // The whole-network check, when there was one, comes from the cache too.
  EXPECT_EQ(b->result.network_from_cache, b->result.network_rule_ms >= 0);
  Session s = Session::from_bytes(b->result.bytes);
  EXPECT_EQ(s.impl().engine->tactics_applied, 2u);
}

TEST(EngineTactics, ADamagedOrForeignTimingCacheIsIgnoredWithAWarningNamingIt) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is prepared";
  auto b = build_tactics();
  const std::string cache = b->dir / "timings.cache";
  b = build_tactics(cache, std::move(b));
  std::vector<uint8_t> good;
  {
    std::ifstream in(cache, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  engine::TimingCache foreign = engine::decode_timing_cache(good);
  foreign.cpu = "a CPU this is not";
  std::vector<uint8_t> flipped = good;
  flipped[flipped.size() / 2] ^= 0x20;
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> cases = {
      {"not a cache", std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}},
      {"empty", {}},
      {"truncated", std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2))},
      {"flipped byte", flipped},
      {"another CPU", engine::encode_timing_cache(foreign)},
  };
  for (const auto& [what, bytes] : cases) {
    write_file(cache, bytes);
    b = build_tactics(cache, std::move(b));
    ASSERT_EQ(b->result.warnings.size(), 1u) << what;
    EXPECT_NE(b->result.warnings[0].find(cache), std::string::npos) << what << ": " << b->result.warnings[0];
    EXPECT_EQ(b->result.tactics_measured, 6u) << what;
    EXPECT_EQ(b->result.tactics.size(), 2u) << what;
    // Rewritten: a good cache again.
    std::ifstream in(cache, std::ios::binary);
    std::vector<uint8_t> now(std::istreambuf_iterator<char>(in), {});
    EXPECT_NO_THROW(engine::decode_timing_cache(now)) << what;
  }
}

TEST(EngineTactics, TheTimingCacheReaderRefusesEveryCutAndFlipNeverReadingPast) {
  engine::TimingCache cache;
  cache.kiln_version = "0.1.0", cache.cpu = "cpu", cache.isa = "avx2";
  cache.entries = {{"ai.onnx:Conv opset 17 | pads=[1,1,1,1] | inputs f32 [1,16,20,20]", "winograd-f2", 0.25, true},
                   {"k2", "implicit-gemm", -1, false}};
  const std::vector<uint8_t> good = engine::encode_timing_cache(cache);
  engine::TimingCache back = engine::decode_timing_cache(good);
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries[0].key, cache.entries[0].key);
  EXPECT_EQ(back.entries[0].ms, 0.25);
  EXPECT_FALSE(back.entries[1].matched);
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(engine::decode_timing_cache(cut), Error) << "cut at " << n;
    try {
      engine::decode_timing_cache(cut, /*verify_checksum=*/false);
    } catch (const Error&) {
    }
  }
  for (size_t i = 0; i < good.size(); ++i)
    for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::vector<uint8_t> flipped = good;
      flipped[i] ^= bit;
      EXPECT_THROW(engine::decode_timing_cache(flipped), Error) << "flip at " << i;
      try {
        engine::decode_timing_cache(flipped, /*verify_checksum=*/false);  // absurd counts and lengths refused
      } catch (const Error&) {
      }
    }
}

TEST(EngineTactics, HostileTacticsSectionsAreRefusedNamingTheSection) {
  engine::TacticRecord r;
  r.node = 3, r.node_name = "conv", r.op_type = "Conv", r.chosen = "winograd-f2", r.rule = "winograd-f4";
  r.candidates = {{"winograd-f4", 1.5, true}, {"winograd-f2", 1.0, true}};
  const std::vector<uint8_t> good = engine::encode_tactics({r});
  ASSERT_EQ(engine::decode_tactics(good).at(0).candidates.at(1).ms, 1.0);
  for (size_t n = 0; n < good.size(); ++n) {
    std::string msg = error_of([&] { engine::decode_tactics(std::span<const uint8_t>(good.data(), n)); });
    EXPECT_NE(msg.find("tactics section"), std::string::npos) << "cut at " << n << ": " << msg;
  }
  std::string twice = error_of([&] { engine::decode_tactics(engine::encode_tactics({r, r})); });
  EXPECT_NE(twice.find("twice"), std::string::npos) << twice;
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  EXPECT_NE(error_of([&] { engine::decode_tactics(trailing); }).find("after its end"), std::string::npos);
  std::vector<uint8_t> absurd = good;
  absurd[0] = absurd[1] = absurd[2] = 0xff;  // a record count no section could hold
  EXPECT_NE(error_of([&] { engine::decode_tactics(absurd); }).find("count of tactic records"), std::string::npos);

  // Through the loader: an engine whose (checksummed) tactics section is garbage is refused, named.
  if (!prepares()) return;
  auto b = build_tactics();
  std::string msg = error_of([&] { Session::from_bytes(with_tactics_section(b->result.bytes, {1, 2, 3})); });
  EXPECT_NE(msg.find("tactics section"), std::string::npos) << msg;
}

// x [batch, 16, 4, 4] -> ConvTranspose 4x4 stride 2 (16 -> 8): a generator's layer, whose two GEMM orientations
// (Wᵀ·X, or Xᵀ·W for few input positions) are its candidate tactics.
TEST(EngineTactics, EachConvTransposeOrientationRecordedRunsWithinTheBound) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is prepared";
  TempDir dir;
  GraphBuilder g;
  g.input("x", DType::kFloat32, {Dim::symbol("batch"), 16, 4, 4});
  g.initializer("W", ramp_tensor({16, 8, 4, 4}, 7));
  ir::Attribute strides;
  strides.name = "strides", strides.type = ir::AttrType::kInts, strides.ints = {2, 2};
  g.node("ConvTranspose", {"x", "W"}, {"y"}, "deconv").attributes.push_back(strides);
  g.output("y", DType::kFloat32, {Dim::symbol("batch"), 8, 10, 10});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = g.g;
  const std::string path = dir / "deconv.onnx";
  onnx::save_model(m, path);
  EngineBuildRequest request;
  request.model_path = path;
  request.profiles = {engine::Profile{{{"x", {1, 16, 4, 4}, {2, 16, 4, 4}, {4, 16, 4, 4}}}}};
  request.tactic_runs = 2;
  EngineBuildResult built = build_engine(request);
  ASSERT_EQ(built.tactics.size(), 1u);
  const engine::TacticRecord& r = built.tactics[0];
  ASSERT_EQ(r.candidates.size(), 2u);
  EXPECT_EQ(r.rule, "gemm-xT.w");  // 16 input positions: the rule transposes
  Session onnx_session = Session::from_file(path);
  const NamedTensors feed = {{"x", ramp_tensor({3, 16, 4, 4}, 9)}};
  const Tensor want = onnx_session.run(feed)[0].second;
  for (const engine::TacticCandidate& c : r.candidates) {
    EXPECT_TRUE(c.matched) << c.name;
    std::vector<engine::TacticRecord> records = built.tactics;
    records[0].chosen = c.name;
    Session s = Session::from_bytes(with_tactics_section(built.bytes, engine::encode_tactics(records)));
    EXPECT_EQ(s.impl().engine->tactics_applied, 1u);
    std::string kernel;
    RunOptions options;
    options.profile = [&](const StepProfile& p) { kernel = p.kernel; };
    const Tensor got = s.run(feed, options)[0].second;
    EXPECT_NE(kernel.find(c.name == "gemm-xT.w" ? "gemm(xT.w)" : "gemm(wT.x)"), std::string::npos) << kernel;
    EXPECT_LE(rel_l2(want, got), kTacticBound) << c.name;
  }
}
