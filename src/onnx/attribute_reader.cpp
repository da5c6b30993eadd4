// AttributeProto and TypeProto readers.

#include <cctype>

#include "base/error.h"
#include "onnx/model_reader.h"

namespace kiln::onnx {

namespace {

constexpr int kMaxTypeNesting = 32;  // sequence(optional(sequence(...))) levels

// AttributeProto field numbers (onnx/onnx.proto).
enum AttrField : uint32_t {
  kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kG = 6, kFloats = 7, kInts = 8, kStrings = 9, kTensors = 10,
  kGraphs = 11, kDocString = 13, kTp = 14, kTypeProtos = 15, kType = 20, kRefAttrName = 21, kSparseTensor = 22,
  kSparseTensors = 23,
};

// The attribute type a field's presence implies (for files older than AttributeProto.type).
ir::AttrType type_of_field(uint32_t n) {
  switch (n) {
    case kF: return ir::AttrType::kFloat;
    case kI: return ir::AttrType::kInt;
    case kS: return ir::AttrType::kString;
    case kT: return ir::AttrType::kTensor;
    case kG: return ir::AttrType::kGraph;
    case kFloats: return ir::AttrType::kFloats;
    case kInts: return ir::AttrType::kInts;
    case kStrings: return ir::AttrType::kStrings;
    case kTensors: return ir::AttrType::kTensors;
    case kGraphs: return ir::AttrType::kGraphs;
    case kTp: return ir::AttrType::kTypeProto;
    case kTypeProtos: return ir::AttrType::kTypeProtos;
    case kSparseTensor: return ir::AttrType::kSparseTensor;
    case kSparseTensors: return ir::AttrType::kSparseTensors;
    default: return ir::AttrType::kUndefined;
  }
}

// The value field that holds attributes of type t.
uint32_t field_of_type(ir::AttrType t) {
  for (uint32_t n : {kF, kI, kS, kT, kG, kFloats, kInts, kStrings, kTensors, kGraphs, kTp, kTypeProtos,
                     kSparseTensor, kSparseTensors})
    if (type_of_field(n) == t) return n;
  return 0;
}

DType checked_elem_type(int32_t n, const std::string& what) {
  std::string name = onnx_type_name(n);
  if (name.empty()) fail(ErrorCode::kInvalidModel, "{} has element type {}, which is not an ONNX type", what, n);
  if (!dtype_is_known(n))
    fail(ErrorCode::kUnsupported, "{} has element type {} ({}), which kiln does not know", what, name, n);
  return static_cast<DType>(n);
}

// TypeProto.Tensor and TypeProto.SparseTensor: elem_type = 1, shape = 2 (TensorShapeProto).
void read_tensor_type(WireReader r, ir::ValueType& vt, const std::string& what) {
  WireField w;
  while (r.next(w)) {
    if (w.number == 1) {
      int32_t n = r.as_int32(w);
      vt.dtype = n == 0 ? DType::kUndefined : checked_elem_type(n, what);
      vt.has_type = n != 0;
    } else if (w.number == 2) {
      WireReader shape = r.message(w, "TensorShapeProto");
      vt.shape = Shape();  // present: the rank is known
      WireField d;
      while (shape.next(d)) {
        if (d.number != 1) continue;
        WireReader dim = shape.message(d, "TensorShapeProto.Dimension");
        Dim value;  // neither dim_value nor dim_param: unknown
        WireField x;
        while (dim.next(x)) {  // a oneof: the last member present wins, as in protobuf
          if (x.number == 1) {
            int64_t v = dim.as_int64(x);
            if (v < -1)
              fail(ErrorCode::kInvalidModel, "{} declares dim {} as {}; a dim is a size >= 0 or a name (dim_param)",
                   what, vt.shape.dims.size(), v);
            value = v >= 0 ? Dim(v) : Dim();  // some exporters wrote -1 for "unknown"
          } else if (x.number == 2) {
            std::string p = dim.as_string(x);
            value = is_placeholder_dim_name(p) ? Dim() : Dim::symbol(std::move(p));
          }
        }
        vt.shape.dims.push_back(std::move(value));
      }
      // No tensor can have more elements than int64 counts: such a declaration is a lie, refused here so that
      // nothing later has to size it.
      int64_t numel = 1;
      bool empty = false;
      for (const Dim& dim : vt.shape.dims) empty = empty || dim.value() == 0;
      for (const Dim& dim : vt.shape.dims)
        if (!empty && dim.is_known() && __builtin_mul_overflow(numel, dim.value(), &numel))
          fail(ErrorCode::kInvalidModel, "{} declares dims {} whose element count overflows 64 bits", what,
               vt.shape.str());
    }
  }
}

}  // namespace

bool is_placeholder_dim_name(std::string_view name) {
  bool alnum = false, number = !name.empty();
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    alnum = alnum || std::isalnum(c);
    number = number && (std::isdigit(c) || (i == 0 && (c == '-' || c == '+') && name.size() > 1));
  }
  if (!alnum || number) return true;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* word : {"none", "null", "nil", "unk", "unknown", "undefined", "nan"})
    if (lower == word) return true;
  return false;
}

ir::ValueType read_type(const WireReader& parent, const WireField& f, const std::string& what, int depth) {
  if (depth > kMaxTypeNesting)
    fail(ErrorCode::kLimitExceeded, "the type of {} nests more than {} levels deep", what, kMaxTypeNesting);
  WireReader r = parent.message(f, "TypeProto");
  ir::ValueType vt;
  const auto inner = [&](WireReader m) {
    // Sequence and Optional hold elem_type = 1; Map holds key_type = 1 and value_type = 2.
    const bool is_map = vt.kind == ir::ValueKind::kMap;
    WireField x;
    while (m.next(x)) {
      if (is_map && x.number == 1) {
        vt.dtype = checked_elem_type(m.as_int32(x), what + " (map key)");
      } else if (x.number == (is_map ? 2u : 1u)) {
        vt.elem = std::make_shared<ir::ValueType>(read_type(m, x, what, depth + 1));
        vt.has_type = true;
      }
    }
  };
  WireField w;
  while (r.next(w)) {
    const bool oneof_member = w.number == 1 || w.number == 4 || w.number == 5 || w.number == 7 || w.number == 8 ||
                              w.number == 9;
    if (oneof_member) vt = ir::ValueType();  // TypeProto.value is a oneof: the last member present wins
    switch (w.number) {
      case 1: read_tensor_type(r.message(w, "TypeProto.Tensor"), vt, what); break;
      case 8:
        vt.kind = ir::ValueKind::kSparseTensor;
        read_tensor_type(r.message(w, "TypeProto.SparseTensor"), vt, what);
        break;
      case 4: vt.kind = ir::ValueKind::kSequence; inner(r.message(w, "TypeProto.Sequence")); break;
      case 9: vt.kind = ir::ValueKind::kOptional; inner(r.message(w, "TypeProto.Optional")); break;
      case 5: vt.kind = ir::ValueKind::kMap; inner(r.message(w, "TypeProto.Map")); break;
      case 7: vt.kind = ir::ValueKind::kUnknown; r.as_bytes(w); break;  // opaque: kiln has no use for it
      default: break;  // denotation and newer fields
    }
  }
  return vt;
}

ir::Attribute read_attribute(const WireReader& parent, const WireField& f, ReadContext& ctx, int depth) {
  WireReader r = parent.message(f, "AttributeProto");
  ir::Attribute a;
  std::vector<WireField> values;  // decoded once the type is known
  int32_t type_number = 0;
  WireField w;
  while (r.next(w)) {
    switch (w.number) {
      case kName: a.name = r.as_string(w); break;
      case kRefAttrName: a.ref_attr_name = r.as_string(w); break;
      case kDocString: a.doc_string = r.as_string(w); break;
      case kType: type_number = r.as_int32(w); break;
      default:
        if (type_of_field(w.number) != ir::AttrType::kUndefined) values.push_back(w);
        break;
    }
  }
  if (a.name.empty()) fail(ErrorCode::kInvalidModel, "attribute at byte {} has no name", f.offset);
  const std::string what = fmt::format("attribute '{}'", a.name);
  if (type_number < 0 || type_number > static_cast<int32_t>(ir::AttrType::kTypeProtos))
    fail(ErrorCode::kInvalidModel, "{} has type {}, which is not an ONNX attribute type", what, type_number);
  a.type = static_cast<ir::AttrType>(type_number);
  if (a.type == ir::AttrType::kUndefined) {
    // Files older than the `type` field (IR version 1) say the type only through the field they fill.
    if (!values.empty()) a.type = type_of_field(values.front().number);
    else if (a.ref_attr_name.empty())
      fail(ErrorCode::kInvalidModel, "{} has neither a type nor a value", what);
  }
  const uint32_t wanted = field_of_type(a.type);
  bool present = false;
  for (const WireField& v : values) {
    if (v.number != wanted) continue;  // fields of another type are ignored, as protobuf readers do
    present = true;
    switch (v.number) {
      case kF: a.f = r.as_float(v); break;
      case kI: a.i = r.as_int64(v); break;
      case kS: a.s = r.as_string(v); break;
      case kT: a.t = read_tensor(r, v, ctx.tensors, nullptr); break;
      case kSparseTensor: a.t = read_sparse_tensor(r, v, ctx.tensors, nullptr); break;
      case kTp: a.tp = std::make_shared<ir::ValueType>(read_type(r, v, what)); break;
      case kFloats: r.append_floats(v, a.floats); break;
      case kInts: r.append_varints(v, a.ints); break;
      case kStrings: a.strings.push_back(r.as_string(v)); break;
      case kTensors: a.tensors.push_back(read_tensor(r, v, ctx.tensors, nullptr)); break;
      case kSparseTensors: a.tensors.push_back(read_sparse_tensor(r, v, ctx.tensors, nullptr)); break;
      case kTypeProtos: a.type_protos.push_back(std::make_shared<ir::ValueType>(read_type(r, v, what))); break;
      case kG:
      case kGraphs: {
        if (depth + 1 > ctx.max_nesting)
          fail(ErrorCode::kLimitExceeded, "subgraphs are nested more than {} deep (at {}, byte {})", ctx.max_nesting,
               what, v.offset);
        auto g = read_graph(r, v, ctx, depth + 1);
        if (v.number == kG) a.g = std::move(g);
        else a.graphs.push_back(std::move(g));
        break;
      }
      default: break;
    }
  }
  // A reference to the caller's attribute (inside a function body) carries no value of its own.
  const bool single = a.type == ir::AttrType::kTensor || a.type == ir::AttrType::kGraph ||
                      a.type == ir::AttrType::kSparseTensor || a.type == ir::AttrType::kTypeProto;
  if (single && !present && a.ref_attr_name.empty())
    fail(ErrorCode::kInvalidModel, "{} has type {} but holds no {}", what, ir::attr_type_name(a.type),
         ir::attr_type_name(a.type));
  return a;
}

ir::OpsetImport read_opset_import(const WireReader& parent, const WireField& f) {
  WireReader r = parent.message(f, "OperatorSetIdProto");
  ir::OpsetImport o;
  WireField w;
  while (r.next(w)) {
    if (w.number == 1) o.domain = r.as_string(w);
    else if (w.number == 2) o.version = r.as_int64(w);
  }
  return o;
}

}  // namespace kiln::onnx
