#include "onnx/tensor_io.h"

#include "base/error.h"
#include "base/mapped_file.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

Tensor decode_owned(std::span<const uint8_t> bytes, ExternalDataResolver* external, const char* no_external) {
  if (bytes.empty())
    fail(ErrorCode::kInvalidModel, "not a TensorProto: it is empty (a tensor needs at least its data type)");
  WireReader r(bytes, bytes.data(), "TensorProto");
  TensorProtoFields f = read_tensor_fields(r);
  TensorSource src;  // no owner: the result must outlive `bytes`, so data is copied
  src.external = external;
  src.no_external_reason = no_external;
  Tensor t = decode_tensor(r, f, src);
  return t.owns_memory() ? t : t.clone();
}

}  // namespace

Tensor parse_tensor(std::span<const uint8_t> bytes) {
  return decode_owned(bytes, nullptr, "the tensor was parsed from bytes, with no folder to read files from");
}

Tensor load_tensor_file(const std::string& path) {
  MappedFile file = MappedFile::open(path);
  size_t slash = path.rfind('/');
  ExternalDataResolver external(slash == std::string::npos ? std::string() : path.substr(0, slash + 1));
  try {
    return decode_owned(file.bytes(), &external, "");
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

std::vector<uint8_t> serialize_tensor(const Tensor& t, const std::string& name) {
  WireWriter w;
  write_tensor_fields(w, t, name);
  return w.take();
}

}  // namespace kiln::onnx
