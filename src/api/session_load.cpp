// Session construction from files and bytes: the one place the API meets the ONNX reader. An engine file
// (.kiln, told by its magic) goes to engine_load.cpp.

#include "api/engine_load.h"
#include "api/session_impl.h"
#include "base/mapped_file.h"
#include "engine/engine_file.h"
#include "onnx/loader.h"

namespace kiln {

Session Session::from_file(const std::string& path, const SessionOptions& options) {
  if (file_is_engine(path)) return from_engine(path, options);
  onnx::LoadOptions load;
  load.max_nesting = options.max_nesting;
  return Session(std::make_shared<Impl>(onnx::load_model(path, load), options));
}

Session Session::from_bytes(std::span<const uint8_t> bytes, const SessionOptions& options) {
  if (engine::is_engine(bytes)) {
    MappedFile copy = MappedFile::from_bytes(bytes);
    return load_engine(copy.bytes(), copy.owner(), options);
  }
  onnx::LoadOptions load;
  load.max_nesting = options.max_nesting;
  return Session(std::make_shared<Impl>(onnx::load_model_from_bytes(bytes, load), options));
}

}  // namespace kiln
