#pragma once
// kiln::Error -> ONNX Runtime's exception classes (the names code written for onnxruntime catches).

#include <nanobind/nanobind.h>

#include "kiln/error.h"

namespace kiln::python {

/// An Error raised while loading a model: malformed bytes become InvalidProtobuf there, as in ONNX Runtime.
struct LoadError : Error {
  explicit LoadError(const Error& e) : Error(e.code(), e.what()) {}
};

/// Creates Fail, InvalidArgument, NoSuchFile, InvalidGraph, InvalidProtobuf, NotImplemented, RuntimeException
/// (and the rest of ONNX Runtime's set) in `m` and translates kiln::Error to them.
void register_errors(nanobind::module_& m);

}  // namespace kiln::python
