// .npy files: numpy-written files (data/onnx/npy, listed in manifest.json by make_fixtures.py) read back
// with the values numpy saved, files kiln must refuse, and kiln-written files laid out as numpy writes them.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "onnx/npy.h"
#include "onnx_test_util.h"

using json = nlohmann::json;
using namespace kiln;
using namespace kiln::testing;

namespace {

const json& npy_entries() {
  static const json m = [] {
    std::ifstream f(onnx_fixture_dir() / "manifest.json");
    return json::parse(f)["npy"];
  }();
  return m;
}

// The parts of a .npy file: version, header dict text without its padding, data bytes, and where data starts.
struct NpyParts {
  int major = 0;
  std::string dict;
  std::vector<uint8_t> data;
  size_t data_offset = 0;
};

NpyParts split_npy(const std::vector<uint8_t>& b) {
  NpyParts p;
  p.major = b.at(6);
  size_t len = p.major == 1 ? b.at(8) | b.at(9) << 8 : b.at(8) | b.at(9) << 8 | b.at(10) << 16 | b.at(11) << 24;
  size_t prefix = p.major == 1 ? 10 : 12;
  std::string header(b.begin() + static_cast<std::ptrdiff_t>(prefix), b.begin() + static_cast<std::ptrdiff_t>(prefix + len));
  EXPECT_EQ(header.back(), '\n');
  p.dict = header.substr(0, header.find('}') + 1);
  p.data_offset = prefix + len;
  p.data.assign(b.begin() + static_cast<std::ptrdiff_t>(p.data_offset), b.end());
  return p;
}

}  // namespace

TEST(OnnxNpy, ReadsWhatNumpyWrote) {
  size_t read = 0;
  for (const json& e : npy_entries()) {
    if (e.contains("error")) continue;
    fs::path p = onnx_fixture_dir() / e["path"].get<std::string>();
    SCOPED_TRACE(p.string());
    Tensor t = onnx::read_npy(p.string());
    EXPECT_EQ(static_cast<int>(t.dtype()), e["data_type"].get<int>());
    EXPECT_EQ(t.dims(), e["dims"].get<std::vector<int64_t>>());
    EXPECT_EQ(tensor_crc32(t), e["crc32"].get<uint32_t>());
    ++read;
  }
  EXPECT_GE(read, 17u);
  // And one value checked directly: base[1][0] = 100 in every 2x4 fixture.
  Tensor i16 = onnx::read_npy((onnx_fixture_dir() / "npy" / "int16_2x4.npy").string());
  EXPECT_EQ(i16.data<int16_t>()[4], 100);
  EXPECT_EQ(i16.data<int16_t>()[2], -2);
}

TEST(OnnxNpy, RefusesWhatItCannotRead) {
  size_t refused = 0;
  for (const json& e : npy_entries()) {
    if (!e.contains("error")) continue;
    fs::path p = onnx_fixture_dir() / e["path"].get<std::string>();
    SCOPED_TRACE(p.string());
    expect_error([&] { onnx::read_npy(p.string()); }, ErrorCode::kInvalidArgument,
                 {p.filename().string(), e["error"].get<std::string>()});
    ++refused;
  }
  EXPECT_EQ(refused, 7u);
  TempDir dir;
  write_file(dir.path() / "short.npy", {0x93, 'N', 'U', 'M'});
  expect_error([&] { onnx::read_npy(dir / "short.npy"); }, ErrorCode::kInvalidArgument, {"magic"});
  std::string bad_header = std::string("\x93NUMPY\x01\x00\x10\x00", 10) + "{'descr': '<f4' ";
  write_file(dir.path() / "hdr.npy", {bad_header.begin(), bad_header.end()});
  expect_error([&] { onnx::read_npy(dir / "hdr.npy"); }, ErrorCode::kInvalidArgument, {"malformed header"});
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }\n";
  std::string huge = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' + dict;
  write_file(dir.path() / "huge.npy", {huge.begin(), huge.end()});
  expect_error([&] { onnx::read_npy(dir / "huge.npy"); }, ErrorCode::kInvalidArgument, {"overflows"});
  expect_error([&] { onnx::read_npy(dir / "none.npy"); }, ErrorCode::kIo, {"none.npy"});
}

TEST(OnnxNpy, WritesFilesLaidOutAsNumpyWritesThem) {
  TempDir dir;
  size_t compared = 0;
  for (const json& e : npy_entries()) {
    if (e.contains("error")) continue;
    fs::path numpy_file = onnx_fixture_dir() / e["path"].get<std::string>();
    SCOPED_TRACE(numpy_file.string());
    Tensor t = onnx::read_npy(numpy_file.string());
    std::string out = dir / "out.npy";
    onnx::write_npy(out, t);
    NpyParts ours = split_npy(read_file(out));
    NpyParts theirs = split_npy(read_file(numpy_file));
    EXPECT_EQ(ours.major, 1);
    if (theirs.major == 1) {
      EXPECT_EQ(ours.dict, theirs.dict);  // the same dict text, padding aside
    }
    EXPECT_EQ(ours.data_offset % 64, 0u);
    EXPECT_EQ(ours.data, theirs.data);
    ++compared;
  }
  EXPECT_GE(compared, 17u);
  Tensor b = Tensor::from_vector<BFloat16>({1}, {BFloat16(1.0f)});
  expect_error([&] { onnx::write_npy(dir / "bf.npy", b); }, ErrorCode::kUnsupported, {"bfloat16"});
  expect_error([&] { onnx::write_npy((dir.path() / "no" / "such" / "x.npy").string(), Tensor::scalar(1.0f)); },
               ErrorCode::kIo, {"x.npy"});
}
