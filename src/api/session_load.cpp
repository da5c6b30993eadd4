// Session construction from files and bytes: the one place the API meets the ONNX reader.

#include "api/session_impl.h"
#include "onnx/loader.h"

namespace kiln {

Session Session::from_file(const std::string& path, const SessionOptions& options) {
  onnx::LoadOptions load;
  load.max_nesting = options.max_nesting;
  return Session(std::make_shared<Impl>(onnx::load_model(path, load), options));
}

Session Session::from_bytes(std::span<const uint8_t> bytes, const SessionOptions& options) {
  onnx::LoadOptions load;
  load.max_nesting = options.max_nesting;
  return Session(std::make_shared<Impl>(onnx::load_model_from_bytes(bytes, load), options));
}

}  // namespace kiln
