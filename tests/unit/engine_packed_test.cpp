// Packed weights in engines (sections 4 and 5): a loaded engine uses the packed bytes it saved in place and gives
// the ONNX file's outputs; saved bytes whose key does not match what prepare chooses (an engine built at another
// ISA tier) are packed again from the raw weights; a corrupt blob is refused before any run reads it, and a
// hostile index is refused at load.

#include <gtest/gtest.h>

#include <fstream>

#include "api/engine_build.h"
#include "api/session_impl.h"
#include "engine/checksum.h"
#include "engine/engine_file.h"
#include "engine/packed_index.h"
#include "graph_builder.h"
#include "kernels/isa.h"
#include "nn_test_util.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

// x [batch, 16, 8, 8] -> Conv 3x3 pad 1 (Winograd; its 18 KiB filter is stored apart from the model) -> Relu ->
// Conv 1x1 (a GEMM; its 4 KiB filter stays in the model section) -> y [batch, 32, 8, 8].
ir::Model winograd_gemm_model() {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), 16, 8, 8});
  b.initializer("W1", ramp_tensor({32, 16, 3, 3}, 1));
  b.initializer("B1", ramp_tensor({32}, 2));
  b.initializer("W2", ramp_tensor({32, 32, 1, 1}, 3));
  ir::Attribute pads;
  pads.name = "pads", pads.type = ir::AttrType::kInts, pads.ints = {1, 1, 1, 1};
  b.node("Conv", {"x", "W1", "B1"}, {"h"}, "conv3x3").attributes.push_back(pads);
  b.node("Relu", {"h"}, {"r"}, "relu");
  b.node("Conv", {"r", "W2"}, {"y"}, "conv1x1");
  b.output("y", DType::kFloat32, {Dim::symbol("batch"), 32, 8, 8});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  return m;
}

struct PackedBuild {
  TempDir dir;
  std::string onnx_path;
  std::vector<uint8_t> bytes;
};

std::unique_ptr<PackedBuild> build_packed() {
  auto b = std::make_unique<PackedBuild>();
  b->onnx_path = b->dir / "conv.onnx";
  onnx::save_model(winograd_gemm_model(), b->onnx_path);
  EngineBuildRequest request;
  request.model_path = b->onnx_path;
  request.profiles = {engine::Profile{{{"x", {1, 16, 8, 8}, {1, 16, 8, 8}, {4, 16, 8, 8}}}}};
  // Prepare's rules choose (Winograd for the 3x3 layer), so the engine runs the ONNX session's kernels bit for bit;
  // timed tactics are engine_tactics_test.cpp's.
  request.tactic_runs = 0;
  b->bytes = build_engine(request).bytes;
  return b;
}

// The engine's sections with the packed index replaced by what `edit` makes of it (checksums recomputed).
std::vector<uint8_t> with_index(const std::vector<uint8_t>& bytes, const std::function<void(engine::PackedIndex&)>& edit) {
  engine::EngineView view = engine::read_engine(bytes);
  std::vector<engine::Section> sections;
  for (const auto& s : view.sections) sections.push_back({s.kind, std::vector<uint8_t>(s.bytes.begin(), s.bytes.end())});
  for (auto& s : sections)
    if (s.kind == engine::SectionKind::kPackedWeights) {
      engine::PackedIndex index =
          engine::decode_packed_index(s.bytes, view.section(engine::SectionKind::kPackedData).size());
      edit(index);
      s.bytes = engine::encode_packed_index(index);
    }
  return engine::write_engine(sections, view.header.isa);
}

engine::PackedIndex index_of(const std::vector<uint8_t>& bytes) {
  engine::EngineView view = engine::read_engine(bytes);
  return engine::decode_packed_index(view.section(engine::SectionKind::kPackedWeights),
                                     view.section(engine::SectionKind::kPackedData).size());
}

// Byte offset in the file of a section's byte `at`.
size_t file_offset(const std::vector<uint8_t>& bytes, engine::SectionKind kind, uint64_t at) {
  return static_cast<size_t>(engine::read_engine(bytes).section(kind).data() - bytes.data()) + at;
}

// Outputs equal to the ONNX file's at the active tier: the same bits, since the same kernels run on the same packed
// bytes (within `tolerance` of the largest output when the engine runs other kernels).
void expect_outputs_equal(Session& engine_session, const std::string& onnx_path, float tolerance = 0) {
  Session onnx_session = Session::from_file(onnx_path);
  for (int64_t batch : {1, 3}) {
    NamedTensors feed = {{"x", ramp_tensor({batch, 16, 8, 8}, 5)}};
    NamedTensors want = onnx_session.run(feed), got = engine_session.run(feed);
    ASSERT_EQ(got[0].second.dims(), want[0].second.dims());
    for (int64_t i = 0; i < want[0].second.numel(); ++i)
      ASSERT_NEAR(got[0].second.data<float>()[i], want[0].second.data<float>()[i], tolerance)
          << "batch " << batch << " at " << i;
  }
}

}  // namespace

TEST(EnginePacked, LoadUsesThePackedBytesInPlaceAndMatchesTheOnnxFile) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is packed";
  auto b = build_packed();
  engine::PackedIndex index = index_of(b->bytes);
  // Winograd's transformed points (16 or 36) and the 1x1 conv's A; W1 moved out of the model, W2 and B1 not.
  EXPECT_GE(index.entries.size(), 17u);
  ASSERT_EQ(index.raw.size(), 1u);
  EXPECT_EQ(index.raw[0].name, "W1");
  Session s = Session::from_bytes(b->bytes);
  EXPECT_EQ(s.impl().engine->packed_in_place, index.entries.size());
  EXPECT_EQ(s.impl().engine->packed_at_load, 0u);
  expect_outputs_equal(s, b->onnx_path);
}

TEST(EnginePacked, BytesPackedForAnotherLayoutArePackedAgainAndRunTheSame) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is packed";
  auto b = build_packed();
  // What an engine built on an AVX-512 CPU says of its GEMM panels, seen by this CPU's kiln: none is used.
  std::vector<uint8_t> other = with_index(b->bytes, [](engine::PackedIndex& index) {
    for (auto& e : index.entries) e.layout = e.layout == "gemm_f32_12x32_avx512" ? "gemm_f32_6x16_avx2" : "gemm_f32_12x32_avx512";
  });
  Session s = Session::from_bytes(other);
  EXPECT_EQ(s.impl().engine->packed_in_place, 0u);
  EXPECT_GT(s.impl().engine->packed_at_load, 0u);
  expect_outputs_equal(s, b->onnx_path);
}

TEST(EnginePacked, AnEngineLoadedBelowItsTierRunsFromTheRawWeights) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): no lower tier";
  auto b = build_packed();
  const kernels::IsaTier tier = kernels::active_isa();
  kernels::set_isa_cap(kernels::IsaTier::kRef);  // KILN_ISA=ref: nothing prepared, the reference reads W1
  SessionOptions quiet;
  quiet.warn = [](const std::string&) {};
  try {
    Session s = Session::from_bytes(b->bytes, quiet);
    kernels::set_isa_cap(tier);
    expect_outputs_equal(s, b->onnx_path, 1e-5f);  // outputs of magnitude ~1-10: reference sums vs Winograd's
  } catch (...) {
    kernels::set_isa_cap(tier);
    throw;
  }
}

TEST(EnginePacked, AFlippedByteInAPackedBlobIsRefusedBeforeTheFirstRun) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is packed";
  auto b = build_packed();
  engine::PackedIndex index = index_of(b->bytes);
  // The last packed entry (the 1x1 conv's panels), then the raw W1.
  const engine::PackedEntry& e = index.entries.back();
  for (bool raw : {false, true}) {
    const size_t at = file_offset(b->bytes, engine::SectionKind::kPackedData,
                                  raw ? index.raw[0].offset + 5 : e.offset + e.bytes / 2);
    std::vector<uint8_t> flipped = b->bytes;
    flipped[at] ^= 0x01;
    Session s = Session::from_bytes(flipped);  // the load reads no blob
    for (int run = 0; run < 2; ++run) {
      std::string why = error_of([&] { s.run({{"x", ramp_tensor({1, 16, 8, 8}, 5)}}); });
      EXPECT_NE(why.find("fails its checksum: the file is corrupt"), std::string::npos) << why;
    }
    // Without prepared kernels (KILN_ISA=ref) the reference reads W1 at every run: it is checked at load. The
    // packed blobs are then read by nothing: a flipped byte there is harmless, and the run gives its outputs.
    const kernels::IsaTier tier = kernels::active_isa();
    kernels::set_isa_cap(kernels::IsaTier::kRef);
    SessionOptions quiet;
    quiet.warn = [](const std::string&) {};
    std::string why = error_of([&] { Session::from_bytes(flipped, quiet).run({{"x", ramp_tensor({1, 16, 8, 8}, 5)}}); });
    kernels::set_isa_cap(tier);
    if (raw)
      EXPECT_NE(why.find("the engine's weight 'W1' fails its checksum"), std::string::npos) << why;
    else
      EXPECT_EQ(why, "");
  }
}

TEST(EnginePacked, AHostileIndexIsRefusedAtLoad) {
  if (!prepares()) GTEST_SKIP() << "kernels run at the ref tier (CPU or KILN_ISA): nothing is packed";
  auto b = build_packed();
  auto refusal = [](const std::vector<uint8_t>& bytes) { return error_of([&] { Session::from_bytes(bytes); }); };
  std::string why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.entries[0].offset = 1ull << 40; }));
  EXPECT_NE(why.find("not a 64-byte-aligned range inside"), std::string::npos) << why;
  why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.entries[0].offset += 4; }));
  EXPECT_NE(why.find("not a 64-byte-aligned range inside"), std::string::npos) << why;
  why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.raw[0].name = "nowhere"; }));
  EXPECT_NE(why.find("raw weight 'nowhere' names no value"), std::string::npos) << why;
  why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.raw[0].name = "W2"; }));
  EXPECT_NE(why.find("names a value already defined"), std::string::npos) << why;
  why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.raw[0].name = "y"; }));  // a node's output
  EXPECT_NE(why.find("'y'"), std::string::npos) << why;
  EXPECT_NE(why.find("kiln build"), std::string::npos) << why;
  why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.raw[0].dims[0] = 31; }));
  EXPECT_NE(why.find("bytes for"), std::string::npos) << why;
  why = refusal(with_index(b->bytes, [](engine::PackedIndex& i) { i.entries.push_back(i.entries[0]); }));
  EXPECT_NE(why.find("twice"), std::string::npos) << why;
  // A flipped byte in the index itself: its section checksum.
  std::vector<uint8_t> flipped = b->bytes;
  flipped[file_offset(b->bytes, engine::SectionKind::kPackedWeights, 10)] ^= 0x04;
  EXPECT_NE(refusal(flipped).find("packed weights section fails its checksum"), std::string::npos) << refusal(flipped);
  // An index without its data section.
  engine::EngineView view = engine::read_engine(b->bytes);
  std::vector<engine::Section> sections;
  for (const auto& s : view.sections)
    if (s.kind != engine::SectionKind::kPackedData)
      sections.push_back({s.kind, std::vector<uint8_t>(s.bytes.begin(), s.bytes.end())});
  why = refusal(engine::write_engine(sections, view.header.isa));
  EXPECT_NE(why.find("packed weights section without its packed data section"), std::string::npos) << why;
}
