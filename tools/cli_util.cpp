#include "cli_util.h"

#include <fmt/format.h>

#include <fstream>

#include "kiln/error.h"
#include "onnx/npy.h"
#include "onnx/tensor_io.h"

namespace kiln::cli {

std::pair<std::string, std::string> split_assignment(const std::string& arg, const char* option) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} expects NAME=VALUE, got '{}'", option, arg));
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

std::vector<int64_t> parse_dims(const std::string& text, const std::string& what) {
  std::vector<int64_t> dims;
  if (text.empty() || text == "scalar") return dims;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of("x,", pos);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(pos, end - pos);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || v < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("{}: '{}' is not a list of sizes like 1x3x224x224", what, text));
    dims.push_back(v);
    pos = end + 1;
  }
  return dims;
}

std::map<std::string, std::vector<int64_t>> parse_shape_args(const std::vector<std::string>& args) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const std::string& s : args) {
    auto [name, dims] = split_assignment(s, "--shape");
    shapes[name] = parse_dims(dims, "--shape " + name);
  }
  return shapes;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.1f} {}", bytes, units[u]);
}

Tensor read_tensor_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kIo, fmt::format("cannot open input file '{}'", path));
  char magic[6] = {};
  f.read(magic, 6);
  if (f.gcount() == 6 && std::string(magic, 6) == "\x93NUMPY") return onnx::read_npy(path);
  return onnx::load_tensor_file(path);
}

std::string safe_file_name(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  if (s.empty() || s == "." || s == "..") s = "_" + s;
  return s;
}

}  // namespace kiln::cli
