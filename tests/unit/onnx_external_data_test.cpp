// External data: the torch-exported fixtures load as zero-copy views into their mapped weight files, and every
// hostile reference (paths leaving the folder, symlinks, hard links, bad ranges, bad keys) is refused.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>

#include "onnx/loader.h"
#include "onnx/tensor_io.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

// A folder holding model.onnx with one float32 initializer "w" of `dims` whose external data has `entries`,
// and data.bin with 64 bytes: the floats 0, 1, ..., 15.
struct ExternalCase {
  TempDir dir;
  fs::path model;
  std::vector<uint8_t> data = std::vector<uint8_t>(64);
  ExternalCase(const std::vector<std::pair<std::string, std::string>>& entries, std::vector<int64_t> dims = {4}) {
    model = dir.path() / "model.onnx";
    write_file(model, ProtoBuilder::model_with_initializers({ProtoBuilder::external_tensor(dims, "w", entries)}));
    for (int i = 0; i < 16; ++i) {
      float f = static_cast<float>(i);
      std::memcpy(data.data() + 4 * i, &f, 4);
    }
    write_file(dir.path() / "data.bin", data);
  }
  ir::Model load() const { return onnx::load_model(model.string()); }
};

void expect_refused(const std::vector<std::pair<std::string, std::string>>& entries,
                    const std::vector<std::string>& parts, ErrorCode code = ErrorCode::kInvalidModel) {
  ExternalCase c(entries);
  expect_error([&] { c.load(); }, code, parts);
}

}  // namespace

TEST(OnnxExternalData, TorchExportLoadsAsViewsIntoTheMappedWeightFile) {
  for (const char* folder : {"torch_external", "torch_external_subdir"}) {
    SCOPED_TRACE(folder);
    fs::path dir = onnx_fixture_dir() / folder;
    ir::Model m = onnx::load_model((dir / "model.onnx").string());
    fs::path weights = dir / (std::string(folder) == "torch_external" ? "weights.bin" : "data/weights.bin");
    auto range = mapping_of(weights);
    ASSERT_NE(range.first, 0u) << "weights.bin is not mapped";
    ASSERT_FALSE(m.graph->initializers.empty());
    size_t views = 0;
    for (const auto& [id, t] : m.graph->initializers) {
      SCOPED_TRACE(m.graph->value(id).name);
      if (t.nbytes() == 0) continue;
      EXPECT_FALSE(t.owns_memory());
      EXPECT_TRUE(points_into(t, range));
      ++views;
    }
    EXPECT_GE(views, 4u);  // conv weight and bias, fc weight and bias at least
    // The input keeps its symbolic dims from dynamic_axes.
    const ir::Value& image = m.graph->value(m.graph->inputs.at(0));
    EXPECT_EQ(image.type.shape.str(), "[batch,3,h,w]");
  }
}

TEST(OnnxExternalData, MappingOutlivesTheModelWhileATensorHoldsIt) {
  fs::path dir = onnx_fixture_dir() / "torch_external";
  Tensor kept;
  std::vector<uint8_t> copy;
  {
    ir::Model m = onnx::load_model((dir / "model.onnx").string());
    kept = m.graph->initializers.begin()->second;
    copy.assign(static_cast<const uint8_t*>(kept.raw_data()), static_cast<const uint8_t*>(kept.raw_data()) + kept.nbytes());
  }
  ASSERT_GT(kept.nbytes(), 0u);
  EXPECT_EQ(std::memcmp(kept.raw_data(), copy.data(), copy.size()), 0);
}

TEST(OnnxExternalData, ValidRangeIsRead) {
  ExternalCase c(Entries{{"location", "data.bin"}, {"offset", "16"}, {"length", "16"}});
  ir::Model m = c.load();
  const Tensor& w = m.graph->initializers.at(m.graph->find("w"));
  ASSERT_EQ(w.numel(), 4);
  EXPECT_EQ(std::vector<float>(w.data<float>(), w.data<float>() + 4), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_TRUE(points_into(w, mapping_of(c.dir.path() / "data.bin")));
  // Without a length the data runs to the end of the file: 12 floats do not fit dims [4].
  ExternalCase tail(Entries{{"location", "./data.bin"}, {"offset", "48"}, {"checksum", "ignored"}});
  EXPECT_EQ(tail.load().graph->initializers.begin()->second.data<float>()[3], 15.0f);
}

TEST(OnnxExternalData, MisalignedOffsetIsCopiedNotViewed) {
  // 4 floats starting at byte 2: the view would be misaligned, so the loader copies.
  ExternalCase c(Entries{{"location", "data.bin"}, {"offset", "2"}, {"length", "16"}});
  ir::Model m = c.load();
  const Tensor& w = m.graph->initializers.begin()->second;
  EXPECT_FALSE(points_into(w, mapping_of(c.dir.path() / "data.bin")));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.raw_data()) % alignof(float), 0u);
  for (int i = 0; i < 4; ++i) {
    float want;
    std::memcpy(&want, c.data.data() + 2 + 4 * i, 4);
    EXPECT_EQ(std::memcmp(&w.data<float>()[i], &want, 4), 0) << i;
  }
}

TEST(OnnxExternalData, PathsLeavingTheFolderAreRefused) {
  expect_refused({{"location", "/etc/passwd"}}, {"tensor 'w'", "'/etc/passwd'", "absolute path"});
  expect_refused({{"location", "../data.bin"}}, {"tensor 'w'", "'../data.bin'", "'..'"});
  expect_refused({{"location", "a/../../data.bin"}}, {"'a/../../data.bin'", "'..'"});
  expect_refused({{"location", "sub/.."}}, {"'..'"});
  expect_refused({{"location", ""}}, {"empty"});
  expect_refused({{"location", std::string("data.bin\0.x", 10)}}, {"NUL"});
  expect_refused({{"location", "."}}, {"names no file"});
}

TEST(OnnxExternalData, SymlinksAndHardLinksAreRefused) {
  {
    ExternalCase c(Entries{{"location", "link/data.bin"}});
    fs::create_directory(c.dir.path() / "real");
    fs::copy_file(c.dir.path() / "data.bin", c.dir.path() / "real" / "data.bin");
    fs::create_directory_symlink(c.dir.path() / "real", c.dir.path() / "link");
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"tensor 'w'", "link/data.bin", "symbolic link"});
  }
  {
    ExternalCase c(Entries{{"location", "in/link/data.bin"}});  // a symlink deeper down the path
    fs::create_directories(c.dir.path() / "in" / "real");
    fs::copy_file(c.dir.path() / "data.bin", c.dir.path() / "in" / "real" / "data.bin");
    fs::create_directory_symlink("real", c.dir.path() / "in" / "link");
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"folder 'link' is a symbolic link"});
  }
  {
    ExternalCase c(Entries{{"location", "alias.bin"}});
    fs::create_symlink("data.bin", c.dir.path() / "alias.bin");
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"alias.bin", "symbolic link"});
  }
  {
    ExternalCase c(Entries{{"location", "data.bin"}});
    fs::create_hard_link(c.dir.path() / "data.bin", c.dir.path() / "other.bin");
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"'data.bin'", "2 hard links"});
  }
  {
    ExternalCase c(Entries{{"location", "dir.bin"}});
    fs::create_directory(c.dir.path() / "dir.bin");
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"not a regular file"});
  }
  {
    ExternalCase c(Entries{{"location", "fifo.bin"}});  // must be refused without waiting for a writer
    ASSERT_EQ(mkfifo((c.dir.path() / "fifo.bin").c_str(), 0600), 0);
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"not a regular file"});
  }
  {
    ExternalCase c(Entries{{"location", "data.bin/x"}});  // a file used as a folder
    expect_error([&] { c.load(); }, ErrorCode::kInvalidModel, {"'data.bin' is not a folder"});
  }
  expect_refused({{"location", "missing.bin"}}, {"missing.bin", "No such file"}, ErrorCode::kIo);
}

TEST(OnnxExternalData, BadRangesAndKeysAreRefused) {
  expect_refused({{"location", "data.bin"}, {"offset", "65"}}, {"tensor 'w'", "offset 65 is past the end", "64 bytes"});
  expect_refused({{"location", "data.bin"}, {"offset", "56"}, {"length", "16"}},
                 {"offset 56 + length 16 is past the end"});
  expect_refused({{"location", "data.bin"}, {"offset", "-4"}}, {"offset '-4' is not a non-negative decimal"});
  expect_refused({{"location", "data.bin"}, {"length", "+16"}}, {"length '+16'"});
  expect_refused({{"location", "data.bin"}, {"offset", "99999999999999999999"}}, {"offset '99999999999999999999'"});
  expect_refused({{"location", "data.bin"}, {"offset", "9223372036854775808"}}, {"does not fit in 64 bits"});
  expect_refused({{"location", "data.bin"}, {"offset", "9223372036854775807"}}, {"past the end"});
  expect_refused({{"location", "data.bin"}, {"length", "12"}}, {"tensor 'w'", "holds 12 bytes", "need 16"});
  expect_refused({{"location", "data.bin"}}, {"holds 64 bytes", "need 16"});  // no length: to the end
  expect_refused({{"location", "data.bin"}, {"offset", "1x"}}, {"'1x'"});
  expect_refused({{"location", "data.bin"}, {"owner", "me"}}, {"unknown external data key 'owner'"});
  expect_refused({{"location", "data.bin"}, {"offset", "0"}, {"offset", "16"}}, {"'offset' appears twice"});
  expect_refused({{"location", "data.bin"}, {"location", "data.bin"}}, {"'location' appears twice"});
  expect_refused({{"offset", "0"}}, {"gives no location"});
}

TEST(OnnxExternalData, RefusedWhereNoFolderIsKnown) {
  ExternalCase c(Entries{{"location", "data.bin"}, {"length", "16"}});
  std::vector<uint8_t> bytes = read_file(c.model);
  expect_error([&] { onnx::load_model_from_bytes(bytes); }, ErrorCode::kInvalidModel,
               {"tensor 'w'", "data.bin", "loaded from bytes"});
  std::vector<uint8_t> tensor = ProtoBuilder::external_tensor({4}, "w", {{"location", "data.bin"}});
  expect_error([&] { onnx::parse_tensor(tensor); }, ErrorCode::kInvalidModel, {"parsed from bytes"});
  // A tensor file resolves external data beside itself, by the same rules.
  write_file(c.dir.path() / "t.pb", ProtoBuilder::external_tensor({4}, "w", {{"location", "data.bin"}, {"length", "16"}}));
  Tensor t = onnx::load_tensor_file(c.dir / "t.pb");
  EXPECT_TRUE(t.owns_memory());
  EXPECT_EQ(t.data<float>()[2], 2.0f);
  write_file(c.dir.path() / "u.pb", ProtoBuilder::external_tensor({4}, "w", {{"location", "../data.bin"}}));
  expect_error([&] { onnx::load_tensor_file(c.dir / "u.pb"); }, ErrorCode::kInvalidModel, {"'..'"});
}
