#include "errors.h"

#include <string_view>

namespace kiln::python {
namespace {

namespace nb = nanobind;

// ONNX Runtime's classes derive from Exception directly (not RuntimeError); so do these.
enum Class { kFail, kInvalidArgument, kNoSuchFile, kNoModel, kEngineError, kRuntimeException, kInvalidProtobuf,
             kModelLoaded, kNotImplemented, kInvalidGraph, kEPFail, kClassCount };
constexpr const char* kNames[kClassCount] = {"Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError",
                                             "RuntimeException", "InvalidProtobuf", "ModelLoaded",
                                             "NotImplemented", "InvalidGraph", "EPFail"};
PyObject* g_classes[kClassCount] = {};

// The wire reader's refusals (a field running past the end, a bad tag or varint, a wrong wire type: "... at
// byte N") and the loader's "not an ONNX model" are what ONNX Runtime calls a protobuf parse failure; every
// other invalid-model error is a graph ONNX can read but not accept.
bool is_parse_failure(std::string_view msg) {
  return msg.find("not an ONNX model") != std::string_view::npos ||
         msg.find(" at byte ") != std::string_view::npos ||
         msg.find("it is truncated") != std::string_view::npos;
}

bool has(std::string_view msg, std::string_view what) { return msg.find(what) != std::string_view::npos; }

// ONNX Runtime parses an empty file as an empty ModelProto and then finds no graph in it: an invalid argument.
bool is_missing_graph(std::string_view msg) {
  return has(msg, "the model has no graph") || has(msg, "not an ONNX model: the file is empty");
}

// What ONNX Runtime raises for a node kiln cannot run (kiln's reasons, src/api/op_support.cpp): a name no ONNX
// opset defines, or one the model's opset does not have (yet or any more), makes the graph invalid (ONNX
// Runtime finds no schema when it resolves the graph); an operator of an unknown custom domain is a Fail ("not a
// registered function/op"); an ONNX operator without an implementation is NotImplemented. ONNX Runtime stops at
// the first such node in graph order; kiln lists them all, so the most basic cause decides.
Class class_for_unsupported(std::string_view msg) {
  // A model without ai.onnx's opset: ONNX Runtime refuses a model that imports no opset at all ("Missing opset
  // in the model") before it looks at a node.
  if (has(msg, "the model does not import domain 'ai.onnx'")) return kFail;
  // An unreleased ai.onnx opset: ONNX Runtime refuses it while validating the opset imports ("Opset N is under
  // development"), a Fail.
  if (has(msg, "newer than any released one kiln knows")) return kFail;
  if (has(msg, "at any opset (a misspelt name?") || has(msg, "the operator first exists at opset") ||
      has(msg, "the operator was removed at opset") || has(msg, "the model does not import domain"))
    return kInvalidGraph;
  if (has(msg, "is a custom operator domain that kiln knows no operators of")) return kFail;
  return kNotImplemented;
}

Class class_for(const Error& e, bool loading) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: return kInvalidArgument;
    case ErrorCode::kInvalidModel:
      if (loading && is_missing_graph(e.what())) return kInvalidArgument;
      return loading && is_parse_failure(e.what()) ? kInvalidProtobuf : kInvalidGraph;
    case ErrorCode::kUnsupported: return loading ? class_for_unsupported(e.what()) : kNotImplemented;
    case ErrorCode::kIo: return loading ? kNoSuchFile : kFail;
    case ErrorCode::kLimitExceeded: return kFail;
    case ErrorCode::kCancelled: return kFail;
    case ErrorCode::kInternal: return kRuntimeException;
  }
  return kFail;
}

}  // namespace

void register_errors(nb::module_& m) {
  for (int i = 0; i < kClassCount; ++i) {
    std::string qualified = std::string("kiln.capi.onnxruntime_pybind11_state.") + kNames[i];
    g_classes[i] = PyErr_NewException(qualified.c_str(), PyExc_Exception, nullptr);
    m.attr(kNames[i]) = nb::handle(g_classes[i]);
  }
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const LoadError& e) {
      PyErr_SetString(g_classes[class_for(e, true)], e.what());
    } catch (const Error& e) {
      PyErr_SetString(g_classes[class_for(e, false)], e.what());
    }
  });
}

}  // namespace kiln::python
