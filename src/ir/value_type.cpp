// Declared ONNX types (TypeProto) in the form kiln runs them: a tensor, a sequence of tensors, or an optional
// of either.
#include "ir/graph.h"

#include "base/error.h"

namespace kiln::ir {

namespace {

const char* kind_word(ValueKind k) {
  switch (k) {
    case ValueKind::kTensor: return "tensor";
    case ValueKind::kSequence: return "sequence";
    case ValueKind::kOptional: return "optional";
    case ValueKind::kMap: return "map";
    case ValueKind::kSparseTensor: return "sparse tensor";
    case ValueKind::kUnknown: return "opaque value";
  }
  return "?";
}

FlatType not_runnable(std::string what) {
  FlatType f;
  f.runnable = false;
  f.what = std::move(what);
  return f;
}

// The tensors inside a sequence declared as `elem` (null: not declared).
FlatType sequence_of(const ValueType* elem) {
  FlatType f;
  f.kind = TensorKind::kSequence;
  if (!elem || !elem->has_type) return f;
  if (elem->kind != ValueKind::kTensor) return not_runnable(fmt::format("sequence of {}", kind_word(elem->kind)));
  f.dtype = elem->dtype;
  f.shape = elem->shape;
  return f;
}

}  // namespace

FlatType flatten_type(const ValueType& t) {
  switch (t.kind) {
    case ValueKind::kTensor: {
      FlatType f;
      if (t.has_type) {
        f.dtype = t.dtype;
        f.shape = t.shape;
      }
      return f;
    }
    case ValueKind::kSequence: return sequence_of(t.elem.get());
    case ValueKind::kOptional: {
      FlatType f;
      f.kind = TensorKind::kOptional;
      const ValueType* e = t.elem.get();
      if (!e || !e->has_type) return f;
      if (e->kind == ValueKind::kTensor) {
        f.dtype = e->dtype;
        f.shape = e->shape;
        return f;
      }
      if (e->kind != ValueKind::kSequence) return not_runnable(fmt::format("optional {}", kind_word(e->kind)));
      FlatType s = sequence_of(e->elem.get());
      if (!s.runnable) return not_runnable("optional " + s.what);
      s.kind = TensorKind::kOptional;
      s.holds = TensorKind::kSequence;
      return s;
    }
    default: return not_runnable(kind_word(t.kind));
  }
}

std::string type_str(const FlatType& t) {
  if (!t.runnable) return t.what;
  const std::string tensor = fmt::format("tensor({})", dtype_name(t.dtype));
  const std::string sequence = fmt::format("sequence({})", dtype_name(t.dtype));
  switch (t.kind) {
    case TensorKind::kTensor: return tensor + t.shape.str();
    case TensorKind::kSequence: return sequence + t.shape.str();
    case TensorKind::kOptional:
      return fmt::format("optional({}){}", t.holds == TensorKind::kSequence ? sequence : tensor, t.shape.str());
  }
  return "?";
}

}  // namespace kiln::ir
