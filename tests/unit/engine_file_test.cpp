// The engine file format (src/engine/engine_file.h): a written engine reads back, and every kind of damage to
// the header, the section table or a section is refused with a message, never read past.

#include <gtest/gtest.h>

#include <cstring>

#include "engine/build_options.h"
#include "engine/checksum.h"
#include "engine/engine_file.h"
#include "engine/profiles.h"
#include "kiln/error.h"

namespace kiln::engine {
namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<Section> three_sections() {
  return {{SectionKind::kProfiles, bytes_of("profiles!")},
          {SectionKind::kBuildOptions, bytes_of("opts")},
          {SectionKind::kModel, std::vector<uint8_t>(1000, 7)}};
}

void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

/// Refusal message of read_engine, or "" when it accepts.
std::string refusal(std::span<const uint8_t> b, bool verify = true) {
  try {
    read_engine(b, verify);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(EngineChecksum, EveryWordAndLengthCounts) {
  std::vector<uint8_t> b(1003);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 31);
  const uint64_t base = checksum64(b);
  for (size_t i : {size_t{0}, size_t{7}, size_t{8}, size_t{500}, size_t{999}, size_t{1002}})
    for (int bit : {0, 7}) {
      std::vector<uint8_t> c = b;
      c[i] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_NE(checksum64(c), base) << "byte " << i << " bit " << bit;
    }
  std::vector<uint8_t> longer = b;
  longer.push_back(0);
  EXPECT_NE(checksum64(longer), base) << "a trailing zero byte must change the checksum";
  EXPECT_NE(checksum64({}), checksum64(std::vector<uint8_t>(1, 0)));
}

TEST(EngineFile, WritesAlignedSectionsThatReadBack) {
  std::vector<uint8_t> file = write_engine(three_sections(), kernels::IsaTier::kAvx2);
  EngineView v = read_engine(file);
  EXPECT_EQ(v.header.format_version, kFormatVersion);
  EXPECT_EQ(v.header.isa, kernels::IsaTier::kAvx2);
  EXPECT_EQ(v.header.file_size, file.size());
  ASSERT_EQ(v.sections.size(), 3u);
  for (const auto& s : v.sections)
    EXPECT_EQ(static_cast<size_t>(s.bytes.data() - file.data()) % kSectionAlignment, 0u) << section_kind_name(s.kind);
  auto p = v.section(SectionKind::kProfiles);
  EXPECT_EQ(std::string(p.begin(), p.end()), "profiles!");
  EXPECT_EQ(v.section(SectionKind::kModel).size(), 1000u);
  EXPECT_EQ(std::to_string(v.header.kiln_version[0]) + "." + std::to_string(v.header.kiln_version[1]) + "." +
                std::to_string(v.header.kiln_version[2]),
            kiln_version_string());
}

TEST(EngineFile, TruncatedAnywhereIsRefusedAsTruncated) {
  std::vector<uint8_t> file = write_engine(three_sections(), kernels::IsaTier::kRef);
  EngineView v = read_engine(file);
  std::vector<size_t> cuts = {0, 4, 8, 63, 64, 64 + 31, 64 + 32 * 3 - 1, file.size() - 1};
  for (const auto& s : v.sections) {  // every section boundary
    size_t at = static_cast<size_t>(s.bytes.data() - file.data());
    cuts.push_back(at);
    cuts.push_back(at + s.bytes.size() - 1);
  }
  for (size_t cut : cuts) {
    std::string why = refusal(std::span<const uint8_t>(file.data(), cut));
    EXPECT_FALSE(why.empty()) << "cut at " << cut;
    if (cut >= 8) {
      EXPECT_NE(why.find("truncated"), std::string::npos) << "cut at " << cut << ": " << why;
    }
  }
}

TEST(EngineFile, DamagedHeadersAreRefusedWithTheReason) {
  const std::vector<uint8_t> good = write_engine(three_sections(), kernels::IsaTier::kRef);
  struct Case { const char* name; std::function<void(std::vector<uint8_t>&)> damage; const char* expect; };
  std::vector<Case> cases = {
      {"bad magic", [](auto& b) { b[0] = 'X'; }, "not a kiln engine"},
      {"newer version", [](auto& b) { put_u32(b, 8, kFormatVersion + 1); }, "use the kiln that built it"},
      {"version 0", [](auto& b) { put_u32(b, 8, 0); }, "format version 0"},
      {"header size", [](auto& b) { put_u32(b, 12, 128); }, "header says it is 128 bytes"},
      {"no such tier", [](auto& b) { put_u32(b, 24, 9); }, "ISA tier 9"},
      {"flags", [](auto& b) { put_u32(b, 28, 1); }, "flags"},
      {"absurd count", [](auto& b) { put_u32(b, 32, 0xffffffffu); }, "sections; at most"},
      {"size lies", [](auto& b) { put_u64(b, 40, 1u << 30); }, "truncated"},
      {"header bit flip", [](auto& b) { b[20] ^= 1; }, "header checksum"},
      {"table bit flip", [](auto& b) { b[64 + 8] ^= 0x40; }, "header checksum"},
      {"section bit flip", [](auto& b) { b.back() ^= 1; }, "model section fails its checksum"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> b = good;
    c.damage(b);
    std::string why = refusal(b);
    EXPECT_NE(why.find(c.expect), std::string::npos) << c.name << ": " << why;
  }
}

/// A table entry rewritten; checksums skipped so the placement checks themselves are what refuses.
std::string refusal_with_entry(size_t index, uint32_t kind, uint64_t offset, uint64_t size) {
  std::vector<uint8_t> b = write_engine(three_sections(), kernels::IsaTier::kRef);
  size_t at = kHeaderBytes + kTableEntryBytes * index;
  put_u32(b, at, kind);
  put_u64(b, at + 8, offset);
  put_u64(b, at + 16, size);
  return refusal(b, /*verify=*/false);
}

TEST(EngineFile, SectionsOutsideTheFileOrOverlappingAreRefused) {
  EXPECT_NE(refusal_with_entry(2, 3, 1u << 20, 10).find("inside the file"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 3, 192, ~uint64_t{0}).find("inside the file"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 3, 193, 10).find("aligned"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 3, 0, 10).find("after the section table"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 3, 192, 100).find("overlap"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 1, 1024, 10).find("two profiles sections"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 77, 1024, 10).find("kind 77"), std::string::npos);
  EXPECT_NE(refusal_with_entry(2, 4, 1024, 10).find("no model section"), std::string::npos);
}

TEST(EngineProfiles, RoundTripAndHostileBytes) {
  std::vector<Profile> profiles(2);
  profiles[0].inputs = {{"x", {1, 3, 8}, {4, 3, 16}, {8, 3, 32}}, {"mask", {}, {}, {}}};
  profiles[1].inputs = {{"x", {9, 3, 8}, {9, 3, 8}, {16, 3, 8}}};
  std::vector<uint8_t> b = encode_profiles(profiles);
  std::vector<Profile> back = decode_profiles(b);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].inputs[0].max, (std::vector<int64_t>{8, 3, 32}));
  EXPECT_EQ(back[0].inputs[1].name, "mask");
  EXPECT_EQ(back[1].inputs[0].min, (std::vector<int64_t>{9, 3, 8}));
  for (size_t cut = 0; cut < b.size(); ++cut)
    EXPECT_THROW(decode_profiles(std::span<const uint8_t>(b.data(), cut)), Error) << "cut at " << cut;
  std::vector<uint8_t> absurd = b;
  put_u32(absurd, 0, 0x7fffffff);
  EXPECT_THROW(decode_profiles(absurd), Error);
  std::vector<uint8_t> inverted = encode_profiles({Profile{{{"x", {8}, {4}, {16}}}}});
  EXPECT_THROW(decode_profiles(inverted), Error);
}

TEST(EngineProfiles, FeedOutsideEveryProfileNamesInputDimRangeAndFlags) {
  std::vector<Profile> profiles(1);
  profiles[0].inputs = {{"x", {1, 3, 224, 224}, {4, 3, 224, 224}, {8, 3, 224, 224}}};
  EXPECT_NO_THROW(check_feeds_in_profiles(profiles, {{"x", {5, 3, 224, 224}}}, "m.onnx"));
  try {
    check_feeds_in_profiles(profiles, {{"x", {16, 3, 224, 224}}}, "m.onnx");
    FAIL() << "batch 16 is outside 1..8";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    for (const char* part : {"'x'", "dim 0 is 16", "1..8", "kiln build m.onnx", "--max x=16x3x224x224",
                             "--min x=1x3x224x224"})
      EXPECT_NE(m.find(part), std::string::npos) << part << " missing from: " << m;
  }
  profiles.push_back(Profile{{{"x", {16, 3, 224, 224}, {16, 3, 224, 224}, {32, 3, 224, 224}}}});
  EXPECT_NO_THROW(check_feeds_in_profiles(profiles, {{"x", {16, 3, 224, 224}}}, "m.onnx"));
  try {
    check_feeds_in_profiles(profiles, {{"x", {12, 3, 224, 224}}}, "m.onnx");
    FAIL() << "batch 12 fits neither 1..8 nor 16..32";
  } catch (const Error& e) {
    std::string m = e.what();  // both profiles kept in the rebuild flags, the first widened
    EXPECT_NE(m.find("--max x=12x3x224x224 --profile --min x=16x3x224x224"), std::string::npos) << m;
  }
}

TEST(EngineBuildOptions, RoundTripAndTruncation) {
  BuildOptions o;
  o.source_model = "resnet.onnx";
  o.level = 1;
  o.disabled_passes = {"fuse_attention", "cse"};
  o.build_seconds = 1.5;
  o.folded_dims = {{"x", 1, 128}, {"mask", 1, 128}};
  std::vector<uint8_t> b = encode_build_options(o);
  BuildOptions back = decode_build_options(b);
  EXPECT_EQ(back.source_model, "resnet.onnx");
  EXPECT_EQ(back.level, 1);
  EXPECT_EQ(back.disabled_passes, o.disabled_passes);
  EXPECT_EQ(back.build_seconds, 1.5);
  ASSERT_EQ(back.folded_dims.size(), 2u);
  EXPECT_EQ(back.folded_dims[1].input, "mask");
  EXPECT_EQ(back.folded_dims[1].dim, 1u);
  EXPECT_EQ(back.folded_dims[1].size, 128);
  for (size_t cut = 0; cut < b.size(); ++cut)
    EXPECT_THROW(decode_build_options(std::span<const uint8_t>(b.data(), cut)), Error) << "cut at " << cut;
}

}  // namespace
}  // namespace kiln::engine
