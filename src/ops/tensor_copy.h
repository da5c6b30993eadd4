#pragma once
// Element copies for data-movement ops (Reshape, Transpose, Slice, Pad, Gather, ...) that work for every
// element type: numbers and bools move as fixed-size bit patterns, strings as std::string objects.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ir/dispatch.h"
#include "kiln/tensor.h"

namespace kiln::ops {

/// Calls f.template operator()<S>() with a storage type S of the same size as one element of `t`:
/// uint8_t/uint16_t/uint32_t/uint64_t for numbers and bool, std::string for strings. Data movement needs
/// only the bits, so 13 element types share 5 instantiations.
template <typename F>
decltype(auto) visit_storage(DType t, F&& f, const char* what = "this op") {
  if (t == DType::kString) return f.template operator()<std::string>();
  switch (dtype_size(t)) {
    case 1: return f.template operator()<uint8_t>();
    case 2: return f.template operator()<uint16_t>();
    case 4: return f.template operator()<uint32_t>();
    case 8: return f.template operator()<uint64_t>();
    default: detail::unsupported_dtype(t, what);
  }
}

/// The elements of `t` seen as storage type S (see visit_storage).
template <typename S> const S* storage_data(const Tensor& t) { return static_cast<const S*>(t.raw_data()); }
template <typename S> S* storage_data(Tensor& t) { return static_cast<S*>(t.raw_data()); }

/// Copies `count` elements from src[src_offset...] to dst[dst_offset...]; both tensors share a dtype.
void copy_elements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count);

/// Copies every element of src into dst (same dtype and element count; dims may differ).
void copy_all(const Tensor& src, Tensor& dst);

/// The general gather behind Transpose, Slice, Expand, Tile, Pad and CenterCropPad:
///   dst[o_0, ..., o_{n-1}] = src[sum_k tables[k][o_k]]   (offsets in elements)
/// where dst has n dims and tables[k] has dst.dim(k) entries. A negative entry in any table means "outside
/// the source": that element is set to `fill` (a scalar of dst's dtype) or to zero / "" when fill is
/// undefined. Every table entry that is not negative must lie inside src (checked by the caller).
void gather_by_axis_tables(const Tensor& src, Tensor& dst, const std::vector<std::vector<int64_t>>& tables,
                           const Tensor* fill = nullptr);

/// dst = src viewed as `src_dims` (same element count) with its axes permuted: dst dim k = src_dims[perm[k]].
void transpose_copy(const Tensor& src, const std::vector<int64_t>& src_dims, const std::vector<int64_t>& perm,
                    Tensor& dst);

}  // namespace kiln::ops
