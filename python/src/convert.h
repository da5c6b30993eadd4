#pragma once
// NumPy arrays <-> kiln::Tensor for the Python module.
//
// Feeds: a C-contiguous array is viewed in place (kiln::Tensor::borrow: no copy); any other array is first made
// C-contiguous in its own dtype (numpy.ascontiguousarray). The dtype is never changed: a float64 array fed to a
// float input reaches kiln as float64 and the session refuses it, naming the input, as ONNX Runtime does.
// Results: an array whose memory is the kiln::Tensor's own, kept alive by a capsule that owns the tensor.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::python {

namespace nb = nanobind;

/// The arrays a run's feeds view; released (with the GIL held) after the run.
using FeedArrays = std::vector<nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>>;

/// Builds the tensor for input `name` from `value` (a NumPy array, a list of arrays for a sequence input).
/// Arrays whose memory the tensor views are appended to `keep`.
Tensor tensor_from_python(nb::handle value, const std::string& name, FeedArrays& keep);

/// A NumPy array (a list for a sequence, None for an empty optional) holding `t`'s data without copying it.
nb::object tensor_to_python(Tensor t);

/// The NumPy dtype name for `t` ("float32", ...), or nullptr when NumPy has no such type.
const char* numpy_dtype_name(DType t);

}  // namespace kiln::python
