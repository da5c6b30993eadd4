// Engines through the API: build_engine from an ONNX file, Session::from_file / from_engine / from_bytes on
// the result, profiles enforced, outputs equal to the ONNX file's, build mistakes named, and hostile engine
// files (truncated at every section boundary, corrupted, newer, with a model section that is not ONNX) refused
// with a message.

#include <gtest/gtest.h>

#include <fstream>

#include "api/engine_build.h"
#include "api/session_impl.h"
#include "engine/engine_file.h"
#include "graph_builder.h"
#include "kernels/isa.h"
#include "nn_test_util.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

// y = Reshape(Relu(x·W + B), Shape(·)): x [batch, seq=8]; the Shape chain folds when the profile fixes seq.
ir::Model dense_model() {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), Dim::symbol("seq")});
  Tensor w(DType::kFloat32, {8, 16}), bias(DType::kFloat32, {16});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = static_cast<float>((i * 37) % 23) / 23.0f - 0.5f;
  for (int64_t i = 0; i < bias.numel(); ++i) bias.data<float>()[i] = static_cast<float>(i % 5) / 10.0f - 0.2f;
  b.initializer("W", w);
  b.initializer("B", bias);
  b.node("MatMul", {"x", "W"}, {"xw"}, "matmul");
  b.node("Add", {"xw", "B"}, {"pre"}, "add");
  b.node("Relu", {"pre"}, {"h"}, "relu");
  b.node("Shape", {"h"}, {"n"}, "shape");
  b.node("Reshape", {"h", "n"}, {"y"}, "reshape");
  b.output("y", DType::kFloat32, {Dim::symbol("batch"), 16});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  return m;
}

Tensor input_of_batch(int64_t batch) {
  Tensor x(DType::kFloat32, {batch, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>((i * 13) % 17) / 8.0f - 1.0f;
  return x;
}

engine::Profile batch_profile(int64_t lo, int64_t opt, int64_t hi) {
  return engine::Profile{{{"x", {lo, 8}, {opt, 8}, {hi, 8}}}};
}

struct ProfiledBuild {
  TempDir dir;
  std::string onnx_path, engine_path;
  std::vector<uint8_t> bytes;
};

std::unique_ptr<ProfiledBuild> build_with_profiles(std::vector<engine::Profile> profiles) {
  auto b = std::make_unique<ProfiledBuild>();
  b->onnx_path = b->dir / "dense.onnx";
  b->engine_path = b->dir / "dense.kiln";
  onnx::save_model(dense_model(), b->onnx_path);
  EngineBuildRequest request;
  request.model_path = b->onnx_path;
  request.profiles = std::move(profiles);
  b->bytes = build_engine(request).bytes;
  std::ofstream(b->engine_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b->bytes.data()), static_cast<std::streamsize>(b->bytes.size()));
  return b;
}

std::string load_error(std::span<const uint8_t> bytes) {
  return error_of([&] { Session::from_bytes(bytes); });
}

}  // namespace

TEST(EngineSession, EveryBatchInTheProfileGivesTheOnnxFilesOutputs) {
  auto b = build_with_profiles({batch_profile(1, 4, 8)});
  Session onnx_session = Session::from_file(b->onnx_path);
  for (Session s : {Session::from_file(b->engine_path), Session::from_engine(b->engine_path),
                    Session::from_bytes(b->bytes)}) {
    ASSERT_TRUE(s.impl().engine);
    for (int64_t batch = 1; batch <= 8; ++batch) {
      NamedTensors want = onnx_session.run({{"x", input_of_batch(batch)}});
      NamedTensors got = s.run({{"x", input_of_batch(batch)}});
      ASSERT_EQ(got[0].second.dims(), want[0].second.dims()) << "batch " << batch;
      for (int64_t i = 0; i < want[0].second.numel(); ++i)
        ASSERT_NEAR(got[0].second.data<float>()[i], want[0].second.data<float>()[i], 1e-6) << "batch " << batch;
    }
  }
}

// kiln build's progress names each graph pass as it finishes: every pass the result lists, in its order.
TEST(EngineSession, TheBuildTellsEachPassAsItFinishes) {
  TempDir dir;
  const std::string path = dir / "dense.onnx";
  onnx::save_model(dense_model(), path);
  EngineBuildRequest request;
  request.model_path = path;
  request.profiles = {batch_profile(1, 4, 8)};
  std::vector<std::string> told;
  request.on_pass = [&](std::string_view pass) { told.emplace_back(pass); };
  const EngineBuildResult result = build_engine(request);
  ASSERT_FALSE(result.pass_runs.empty());
  std::vector<std::string> ran;
  for (const passes::PassRun& run : result.pass_runs) ran.push_back(run.name);
  EXPECT_EQ(told, ran);
}

TEST(EngineSession, PassOptionsAtLoadAreNotSilentlyIgnored) {
  auto b = build_with_profiles({batch_profile(1, 4, 8)});
  std::vector<std::string> warnings;
  SessionOptions options;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  Session::from_file(b->engine_path, options);
  EXPECT_TRUE(warnings.empty());
  options.disabled_passes = {"fuse_gemm"};
  Session::from_file(b->engine_path, options);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ran when it was built (level 2)"), std::string::npos) << warnings[0];
}

TEST(EngineSession, DimsEveryProfileFixesAreFoldedAndShapeChainsGo) {
  auto b = build_with_profiles({batch_profile(1, 4, 8)});
  Session s = Session::from_file(b->engine_path);
  EXPECT_EQ(s.inputs()[0].shape.str(), "[batch,8]");  // seq: 8 in the profile, folded; batch stays a symbol
  const auto& folded = s.impl().engine->build.folded_dims;
  ASSERT_EQ(folded.size(), 1u);
  EXPECT_EQ(folded[0].input, "x");
  EXPECT_EQ(folded[0].dim, 1u);
  EXPECT_EQ(folded[0].size, 8);
  for (const ir::Node& n : s.impl().model.graph->nodes) EXPECT_NE(n.op_type, "Shape") << "Shape was not folded";
}

TEST(EngineSession, AFeedOutsideTheProfileIsRefusedWithTheRebuildFlags) {
  auto b = build_with_profiles({batch_profile(1, 4, 8)});
  Session s = Session::from_file(b->engine_path);
  try {
    s.run({{"x", input_of_batch(9)}});
    FAIL() << "batch 9 ran on an engine built for 1..8";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    for (std::string part : {std::string("'x' dim 0 is 9"), std::string("1..8"), "kiln build " + b->onnx_path,
                             std::string("--max x=9x8"), std::string("--min x=1x8")})
      EXPECT_NE(m.find(part), std::string::npos) << part << " missing from: " << m;
  }
  // Binding checks feeds the same way.
  EXPECT_THROW(s.bind({{"x", input_of_batch(9)}}), Error);
  EXPECT_NO_THROW(s.bind({{"x", input_of_batch(8)}}));
}

TEST(EngineSession, SeveralProfilesAnyOneFits) {
  auto b = build_with_profiles({batch_profile(1, 1, 2), batch_profile(6, 8, 8)});
  Session s = Session::from_file(b->engine_path);
  EXPECT_NO_THROW(s.run({{"x", input_of_batch(2)}}));
  EXPECT_NO_THROW(s.run({{"x", input_of_batch(7)}}));
  std::string m = error_of([&] { s.run({{"x", input_of_batch(4)}}); });
  EXPECT_NE(m.find("profile 0"), std::string::npos) << "batch 4 fits neither 1..2 nor 6..8: " << m;
  EXPECT_NE(m.find("6..8"), std::string::npos) << m;
}

TEST(EngineSession, BuildMistakesNameTheInputAndTheFix) {
  auto build_error = [](std::vector<engine::Profile> profiles) {
    return error_of([&] { build_with_profiles(std::move(profiles)); });
  };
  EXPECT_NE(build_error({engine::Profile{{{"images", {1, 8}, {1, 8}, {2, 8}}}}}).find("'images', which is not an input"),
            std::string::npos);
  EXPECT_NE(build_error({engine::Profile{{{"x", {1}, {1}, {2}}}}}).find("input 'x' has 2 dims"), std::string::npos);
  EXPECT_NE(build_error({engine::Profile{}}).find("--min x=DIMS"), std::string::npos);
  EXPECT_NE(build_error({batch_profile(4, 2, 8)}).find("min <= opt"), std::string::npos);
  EXPECT_NE(build_error({}).find("at least one profile"), std::string::npos);
}

TEST(EngineSession, AProfileTheModelCannotRunAtFailsTheBuildNamed) {
  // Reshape(x, [-1, 4]): x [batch, seq] holds a multiple of 4 elements only for some sizes.
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), Dim::symbol("seq")});
  b.initializer("target", Tensor::from_vector<int64_t>({2}, {-1, 4}));
  b.node("Reshape", {"x", "target"}, {"y"}, "reshape");
  b.output("y", DType::kFloat32, {Dim(), 4});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  TempDir dir;
  onnx::save_model(m, dir / "reshape.onnx");
  EngineBuildRequest request;
  request.model_path = dir / "reshape.onnx";
  request.profiles = {engine::Profile{{{"x", {1, 4}, {2, 8}, {8, 8}}}}};
  EXPECT_NO_THROW(build_engine(request));
  request.profiles = {engine::Profile{{{"x", {1, 3}, {2, 8}, {8, 8}}}}};  // 1 x 3 cannot be reshaped to [-1, 4]
  std::string msg = error_of([&] { build_engine(request); });
  EXPECT_NE(msg.find("cannot run at the min shapes of profile 0 (x=1x3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reshape"), std::string::npos) << msg;
}

TEST(EngineSession, AnEngineForAHigherTierRunsWithAWarning) {
  const kernels::IsaTier tier = kernels::active_isa();
  if (tier == kernels::IsaTier::kRef) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): no lower tier";
  auto b = build_with_profiles({batch_profile(1, 4, 8)});
  ASSERT_EQ(engine::read_engine(b->bytes).header.isa, kernels::active_isa());
  kernels::set_isa_cap(kernels::IsaTier::kRef);
  std::vector<std::string> warnings;
  SessionOptions options;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  try {
    Session s = Session::from_file(b->engine_path, options);
    EXPECT_NO_THROW(s.run({{"x", input_of_batch(3)}}));
  } catch (...) {
    kernels::set_isa_cap(tier);
    throw;
  }
  kernels::set_isa_cap(tier);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("built for ISA tier avx"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("kiln build " + b->onnx_path), std::string::npos) << warnings[0];
}

TEST(EngineSession, HostileEnginesAreRefusedNeverCrash) {
  auto b = build_with_profiles({batch_profile(1, 4, 8)});
  engine::EngineView view = engine::read_engine(b->bytes);
  std::vector<size_t> cuts = {0, 7, 8, 40, 64, 100, b->bytes.size() / 2, b->bytes.size() - 1};
  for (const auto& s : view.sections) {
    size_t at = static_cast<size_t>(s.bytes.data() - b->bytes.data());
    for (size_t cut : {at - 1, at, at + 1, at + s.bytes.size() - 1, at + s.bytes.size()})
      if (cut < b->bytes.size()) cuts.push_back(cut);
  }
  for (size_t cut : cuts) {
    std::string why = load_error(std::span<const uint8_t>(b->bytes.data(), cut));
    EXPECT_FALSE(why.empty()) << "an engine cut at " << cut << " of " << b->bytes.size() << " loaded";
  }
  std::vector<uint8_t> flipped = b->bytes;  // the model section's last bytes (packed blobs: engine_packed_test)
  const auto model = view.section(engine::SectionKind::kModel);
  flipped[static_cast<size_t>(model.data() - b->bytes.data()) + model.size() - 10] ^= 0x10;
  EXPECT_NE(load_error(flipped).find("model section fails its checksum"), std::string::npos);
  std::vector<uint8_t> newer = b->bytes;
  newer[8] = static_cast<uint8_t>(engine::kFormatVersion + 1);
  EXPECT_NE(load_error(newer).find(fmt::format("format version {}", engine::kFormatVersion + 1)), std::string::npos)
      << load_error(newer);

  // Checksums right, but the model section is not ONNX: refused by the ONNX reader, with the rebuild advice.
  std::vector<engine::Section> sections;
  for (const auto& s : view.sections)
    sections.push_back({s.kind, std::vector<uint8_t>(s.bytes.begin(), s.bytes.end())});
  for (auto& s : sections)
    if (s.kind == engine::SectionKind::kModel) s.bytes = {0x08, 0x08, 0x3a, 0xff, 0xff, 0x01, 0x02};
  std::string why = load_error(engine::write_engine(sections, kernels::IsaTier::kRef));
  EXPECT_NE(why.find("the engine's model section cannot be loaded"), std::string::npos) << why;
  EXPECT_NE(why.find("kiln build"), std::string::npos) << why;
  // Checksums right, but a profile that contradicts the model (rank 3 for a rank-2 input).
  for (auto& s : sections)
    if (s.kind == engine::SectionKind::kModel) s.bytes.assign(view.section(engine::SectionKind::kModel).begin(),
                                                              view.section(engine::SectionKind::kModel).end());
    else if (s.kind == engine::SectionKind::kProfiles)
      s.bytes = engine::encode_profiles({engine::Profile{{{"x", {1, 8, 1}, {1, 8, 1}, {2, 8, 1}}}}});
  why = load_error(engine::write_engine(sections, kernels::IsaTier::kRef));
  EXPECT_NE(why.find("the engine's profiles do not fit its model"), std::string::npos) << why;
  // And from a file, the message starts with the path.
  std::ofstream(b->dir / "cut.kiln", std::ios::binary).write(reinterpret_cast<const char*>(b->bytes.data()), 100);
  why = error_of([&] { Session::from_file(b->dir / "cut.kiln"); });
  EXPECT_EQ(why.rfind(b->dir / "cut.kiln: the engine is 100 bytes", 0), 0u) << why;
}
