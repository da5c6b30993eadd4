#include "convert.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "kiln/error.h"

namespace kiln::python {

namespace {

using nb::dlpack::dtype_code;
using namespace nb::literals;

DType dtype_from_dlpack(nb::dlpack::dtype t, const std::string& name) {
  if (t.lanes == 1) {
    switch (static_cast<dtype_code>(t.code)) {
      case dtype_code::Float:
        if (t.bits == 16) return DType::kFloat16;
        if (t.bits == 32) return DType::kFloat32;
        if (t.bits == 64) return DType::kFloat64;
        break;
      case dtype_code::Int:
        if (t.bits == 8) return DType::kInt8;
        if (t.bits == 16) return DType::kInt16;
        if (t.bits == 32) return DType::kInt32;
        if (t.bits == 64) return DType::kInt64;
        break;
      case dtype_code::UInt:
        if (t.bits == 8) return DType::kUInt8;
        if (t.bits == 16) return DType::kUInt16;
        if (t.bits == 32) return DType::kUInt32;
        if (t.bits == 64) return DType::kUInt64;
        break;
      case dtype_code::Bool: return DType::kBool;
      case dtype_code::Bfloat:
        if (t.bits == 16) return DType::kBFloat16;
        break;
      default: break;
    }
  }
  throw Error(ErrorCode::kInvalidArgument,
              "input '" + name + "' is an array of a type kiln cannot feed (DLPack code " + std::to_string(t.code) +
                  ", " + std::to_string(t.bits) + " bits); feed the element type the model declares");
}

bool dlpack_of(DType t, nb::dlpack::dtype& out) {
  auto set = [&](dtype_code c, int bits) {
    out.code = static_cast<uint8_t>(c);
    out.bits = static_cast<uint8_t>(bits);
    out.lanes = 1;
    return true;
  };
  switch (t) {
    case DType::kFloat16: return set(dtype_code::Float, 16);
    case DType::kFloat32: return set(dtype_code::Float, 32);
    case DType::kFloat64: return set(dtype_code::Float, 64);
    case DType::kInt8: return set(dtype_code::Int, 8);
    case DType::kInt16: return set(dtype_code::Int, 16);
    case DType::kInt32: return set(dtype_code::Int, 32);
    case DType::kInt64: return set(dtype_code::Int, 64);
    case DType::kUInt8: return set(dtype_code::UInt, 8);
    case DType::kUInt16: return set(dtype_code::UInt, 16);
    case DType::kUInt32: return set(dtype_code::UInt, 32);
    case DType::kUInt64: return set(dtype_code::UInt, 64);
    case DType::kBool: return set(dtype_code::Bool, 8);
    default: return false;
  }
}

std::vector<int64_t> shape_of(nb::handle array) {
  std::vector<int64_t> dims;
  for (nb::handle d : array.attr("shape")) dims.push_back(nb::cast<int64_t>(d));
  return dims;
}

Tensor strings_from_python(nb::handle array) {
  Tensor t(DType::kString, shape_of(array));
  nb::list items = nb::list(array.attr("ravel")().attr("tolist")());
  std::string* out = t.data<std::string>();
  for (size_t i = 0; i < items.size(); ++i) {
    nb::handle item = items[i];
    out[i] = nb::isinstance<nb::bytes>(item) ? std::string(nb::cast<nb::bytes>(item).c_str(),
                                                           nb::cast<nb::bytes>(item).size())
                                             : nb::cast<std::string>(nb::str(item));
  }
  return t;
}

}  // namespace

const char* numpy_dtype_name(DType t) {
  switch (t) {
    case DType::kFloat16: return "float16";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt8: return "int8";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
    case DType::kUInt16: return "uint16";
    case DType::kUInt32: return "uint32";
    case DType::kUInt64: return "uint64";
    case DType::kBool: return "bool";
    case DType::kString: return "object";
    default: return nullptr;
  }
}

Tensor tensor_from_python(nb::handle value, const std::string& name, FeedArrays& keep) {
  if (nb::isinstance<nb::list>(value) || nb::isinstance<nb::tuple>(value)) {  // a sequence input
    std::vector<Tensor> elements;
    for (nb::handle item : value) elements.push_back(tensor_from_python(item, name, keep).clone());
    if (elements.empty())
      throw Error(ErrorCode::kInvalidArgument, "input '" + name + "' is fed an empty list; kiln needs at least "
                                               "one tensor to know the sequence's element type");
    DType elem = elements.front().dtype();
    return Tensor::make_sequence(elem, std::move(elements));
  }
  if (!nb::hasattr(value, "__array_interface__") && !nb::hasattr(value, "__dlpack__"))
    throw Error(ErrorCode::kInvalidArgument, "input '" + name + "' is fed a " +
                                                 nb::cast<std::string>(nb::str(value.type().attr("__name__"))) +
                                                 "; feed a numpy array");
  nb::object array = nb::borrow(value);
  if (nb::hasattr(array, "dtype")) {
    std::string kind = nb::cast<std::string>(array.attr("dtype").attr("kind"));
    if (kind == "U" || kind == "O" || kind == "S") return strings_from_python(array);
    if (!nb::cast<bool>(array.attr("flags").attr("c_contiguous")))
      array = nb::module_::import_("numpy").attr("ascontiguousarray")(array);  // same dtype, C order
  }
  auto view = nb::cast<nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>>(array, /*convert=*/false);
  DType dtype = dtype_from_dlpack(view.dtype(), name);
  std::vector<int64_t> dims(view.ndim());
  for (size_t i = 0; i < view.ndim(); ++i) dims[i] = static_cast<int64_t>(view.shape(i));
  Tensor t = Tensor::borrow(dtype, std::move(dims), const_cast<void*>(view.data()));
  keep.push_back(std::move(view));
  return t;
}

nb::object tensor_to_python(Tensor t) {
  if (t.is_sequence()) {
    nb::list list;
    for (const Tensor& e : t.elements()) list.append(tensor_to_python(e));
    return list;
  }
  if (t.is_optional()) return t.has_element() ? tensor_to_python(t.elements().front()) : nb::none();
  if (t.dtype() == DType::kString) {
    nb::list items;
    for (const std::string& s : t.span<std::string>()) items.append(nb::str(s.data(), s.size()));
    nb::module_ np = nb::module_::import_("numpy");
    nb::tuple shape = nb::tuple(nb::cast(t.dims()));
    return np.attr("array")(items, "dtype"_a = np.attr("object_")).attr("reshape")(shape);
  }
  nb::dlpack::dtype dt{};
  // As ONNX Runtime: float8e4m3fn comes back as its bytes (uint8); the other types NumPy has no type for raise
  // RuntimeError (ONNX Runtime's "No corresponding Numpy type for Tensor Type"), not one of kiln's classes.
  if (t.dtype() == DType::kFloat8E4M3FN) dlpack_of(DType::kUInt8, dt);
  else if (!dlpack_of(t.dtype(), dt))
    throw std::runtime_error(std::string("No corresponding Numpy type for Tensor Type ") +
                             std::string(dtype_name(t.dtype())) + ": an output of this type has no NumPy type (as "
                             "in ONNX Runtime); Cast it to float in the model, or `kiln run --output-format pb` "
                             "writes it as a TensorProto file");
  if (!t.owns_memory()) t = t.clone();  // a view of a feed or of the model file: the result gets its own copy
  auto* holder = new Tensor(std::move(t));
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  std::vector<size_t> shape(holder->dims().begin(), holder->dims().end());
  return nb::ndarray<nb::numpy>(holder->raw_data(), shape.size(), shape.data(), owner, nullptr, dt).cast();
}

}  // namespace kiln::python
