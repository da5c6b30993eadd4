#include "onnx/value_io.h"

#include "base/error.h"
#include "base/mapped_file.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

// SequenceProto and OptionalProto (onnx/onnx-data.proto): name = 1, elem_type = 2 (what kind of value they
// hold, not its element type: TENSOR = 1, SPARSE_TENSOR = 2, SEQUENCE = 3, MAP = 4, OPTIONAL = 5), then the
// values: tensors = 3, sparse tensors = 4, sequences = 5, maps = 6, optionals = 7 (repeated in a sequence,
// at most one in an optional).
enum ContainerField : uint32_t { kName = 1, kElemType = 2, kTensor = 3, kSparse = 4, kSequence = 5, kMap = 6, kOptional = 7 };
enum ElemKind : int32_t { kUndefinedKind = 0, kTensorKind = 1, kSequenceKind = 3 };

const char* field_kind(uint32_t n) {
  switch (n) {
    case kSparse: return "sparse tensors";
    case kMap: return "maps";
    case kOptional: return "optionals";
    default: return "values";
  }
}

Tensor read_one_tensor(const WireReader& r, const WireField& f, const TensorSource& src) {
  Tensor t = read_tensor(r, f, src, nullptr);
  return t.owns_memory() ? t : t.clone();
}

Tensor read_sequence(WireReader r, DType declared_elem, const TensorSource& src) {
  std::vector<Tensor> tensors;
  WireField w;
  while (r.next(w)) {
    switch (w.number) {
      case kName: break;
      case kElemType: {
        const int32_t k = r.as_int32(w);
        if (k != kUndefinedKind && k != kTensorKind)
          fail(ErrorCode::kUnsupported, "the SequenceProto holds values of kind {}; kiln holds sequences of tensors "
               "only", k);
        break;
      }
      case kTensor: tensors.push_back(read_one_tensor(r, w, src)); break;
      case kSparse: case kSequence: case kMap: case kOptional:
        fail(ErrorCode::kUnsupported, "the SequenceProto holds {}; kiln holds sequences of tensors only",
             field_kind(w.number));
      default: break;
    }
  }
  DType elem = tensors.empty() ? declared_elem : tensors.front().dtype();
  if (declared_elem != DType::kUndefined && elem != declared_elem)
    fail(ErrorCode::kInvalidModel, "the SequenceProto holds {} tensors, but the graph declares a sequence of {}",
         dtype_name(elem), dtype_name(declared_elem));
  return Tensor::make_sequence(elem, std::move(tensors));
}

Tensor read_optional(WireReader r, const ir::FlatType& declared, const TensorSource& src) {
  Tensor value;
  WireField w;
  while (r.next(w)) {
    switch (w.number) {
      case kTensor: value = read_one_tensor(r, w, src); break;
      case kSequence: value = read_sequence(r.message(w, "SequenceProto"), declared.dtype, src); break;
      case kSparse: case kMap: case kOptional:
        fail(ErrorCode::kUnsupported, "the OptionalProto holds one of the {}; kiln holds optional tensors and "
             "sequences only", field_kind(w.number));
      default: break;
    }
  }
  if (!value.defined()) return Tensor::make_empty_optional(declared.dtype, declared.holds);
  return Tensor::make_optional(std::move(value));
}

Tensor decode(std::span<const uint8_t> bytes, const ir::FlatType& declared, const TensorSource& src) {
  if (!declared.runnable)
    fail(ErrorCode::kUnsupported, "the value is declared as a {}, which kiln does not hold", declared.what);
  switch (declared.kind) {
    case TensorKind::kSequence: return read_sequence(WireReader(bytes, bytes.data(), "SequenceProto"), declared.dtype, src);
    case TensorKind::kOptional: return read_optional(WireReader(bytes, bytes.data(), "OptionalProto"), declared, src);
    case TensorKind::kTensor: break;
  }
  if (bytes.empty())
    fail(ErrorCode::kInvalidModel, "not a TensorProto: it is empty (a tensor needs at least its data type)");
  WireReader r(bytes, bytes.data(), "TensorProto");
  Tensor t = decode_tensor(r, read_tensor_fields(r), src);
  return t.owns_memory() ? t : t.clone();
}

void write_sequence_fields(WireWriter& w, const Tensor& seq) {
  w.int64_field(kElemType, kTensorKind);
  for (const Tensor& e : seq.elements()) {
    size_t m = w.begin_message(kTensor);
    write_tensor_fields(w, e, "");
    w.end_message(m);
  }
}

}  // namespace

Tensor parse_value(std::span<const uint8_t> bytes, const ir::FlatType& declared) {
  TensorSource src;  // no owner: data is copied, so the result outlives `bytes`
  src.no_external_reason = "the value was parsed from bytes, with no folder to read files from";
  return decode(bytes, declared, src);
}

Tensor load_value_file(const std::string& path, const ir::FlatType& declared) {
  MappedFile file = MappedFile::open(path);
  size_t slash = path.rfind('/');
  ExternalDataResolver external(slash == std::string::npos ? std::string() : path.substr(0, slash + 1));
  TensorSource src;
  src.external = &external;
  try {
    return decode(file.bytes(), declared, src);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

std::vector<uint8_t> serialize_value(const Tensor& t, const std::string& name) {
  WireWriter w;
  if (t.is_tensor()) {
    write_tensor_fields(w, t, name);
    return w.take();
  }
  if (!name.empty()) w.string_field(kName, name);
  if (t.is_sequence()) {
    write_sequence_fields(w, t);
    return w.take();
  }
  const bool holds_sequence = t.optional_holds() == TensorKind::kSequence;
  w.int64_field(kElemType, holds_sequence ? kSequenceKind : kTensorKind);
  if (t.has_element()) {
    size_t m = w.begin_message(holds_sequence ? kSequence : kTensor);
    if (holds_sequence) write_sequence_fields(w, t.elements().front());
    else write_tensor_fields(w, t.elements().front(), "");
    w.end_message(m);
  }
  return w.take();
}

}  // namespace kiln::onnx
