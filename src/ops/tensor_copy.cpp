#include "ops/tensor_copy.h"

#include <algorithm>

#include "base/error.h"
#include "ops/shape_util.h"

namespace kiln::ops {

void copy_elements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count) {
  KILN_ASSERT(src.dtype() == dst.dtype());
  KILN_ASSERT(count >= 0 && src_offset >= 0 && dst_offset >= 0);
  KILN_ASSERT(src_offset + count <= src.numel() && dst_offset + count <= dst.numel());
  if (count == 0) return;
  if (src.dtype() == DType::kString) {
    const auto* in = storage_data<std::string>(src) + src_offset;
    std::copy(in, in + count, storage_data<std::string>(dst) + dst_offset);
    return;
  }
  size_t size = dtype_size(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw_data()) + static_cast<size_t>(dst_offset) * size,
              static_cast<const char*>(src.raw_data()) + static_cast<size_t>(src_offset) * size,
              static_cast<size_t>(count) * size);
}

void copy_all(const Tensor& src, Tensor& dst) {
  KILN_ASSERT(src.numel() == dst.numel());
  copy_elements(src, 0, dst, 0, src.numel());
}

void gather_by_axis_tables(const Tensor& src, Tensor& dst, const std::vector<std::vector<int64_t>>& tables,
                           const Tensor* fill) {
  const size_t n = dst.rank();
  KILN_ASSERT(tables.size() == n);
  for (size_t k = 0; k < n; ++k) KILN_ASSERT(static_cast<int64_t>(tables[k].size()) == dst.dim(k));
  if (dst.numel() == 0) return;
  KILN_ASSERT(src.dtype() == dst.dtype());
  visit_storage(dst.dtype(), [&]<typename S>() {
    const S* in = storage_data<S>(src);
    S* out = storage_data<S>(dst);
    S fill_value{};
    if (fill && fill->defined()) {
      KILN_ASSERT(fill->dtype() == dst.dtype() && fill->numel() >= 1);
      fill_value = storage_data<S>(*fill)[0];
    }
    if (n == 0) {
      out[0] = in[0];
      return;
    }
    const std::vector<int64_t>& last = tables[n - 1];
    const int64_t inner = static_cast<int64_t>(last.size());
    bool contiguous = last[0] >= 0;
    for (int64_t j = 1; j < inner && contiguous; ++j) contiguous = last[static_cast<size_t>(j)] == last[0] + j;

    // prefix[k] = sum of tables[j][idx[j]] for j < k, or -1 once any of them is outside the source.
    std::vector<int64_t> idx(n, 0), prefix(n, 0);
    auto refresh = [&](size_t from) {
      for (size_t k = from; k + 1 < n; ++k) {
        int64_t t = tables[k][static_cast<size_t>(idx[k])];
        prefix[k + 1] = (prefix[k] < 0 || t < 0) ? -1 : prefix[k] + t;
      }
    };
    refresh(0);
    const int64_t rows = dst.numel() / inner;
    for (int64_t r = 0; r < rows; ++r, out += inner) {
      const int64_t base = prefix[n - 1];
      if (base < 0) {
        std::fill(out, out + inner, fill_value);
      } else if (contiguous) {
        std::copy(in + base + last[0], in + base + last[0] + inner, out);
      } else {
        for (int64_t j = 0; j < inner; ++j) {
          int64_t t = last[static_cast<size_t>(j)];
          out[j] = t < 0 ? fill_value : in[base + t];
        }
      }
      // Advance the odometer over the outer axes (all but the last).
      for (size_t k = n - 1; k-- > 0;) {
        if (++idx[k] < dst.dim(k)) {
          refresh(k);
          break;
        }
        idx[k] = 0;
      }
    }
  });
}

void transpose_copy(const Tensor& src, const std::vector<int64_t>& src_dims, const std::vector<int64_t>& perm,
                    Tensor& dst) {
  KILN_ASSERT(perm.size() == src_dims.size() && dst.rank() == perm.size());
  if (dst.numel() == 0) return;
  std::vector<int64_t> strides = strides_of(src_dims);
  std::vector<std::vector<int64_t>> tables(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    const auto axis = static_cast<size_t>(perm[k]);
    KILN_ASSERT(dst.dim(k) == src_dims[axis]);
    tables[k].resize(static_cast<size_t>(src_dims[axis]));
    for (int64_t o = 0; o < src_dims[axis]; ++o) tables[k][static_cast<size_t>(o)] = o * strides[axis];
  }
  gather_by_axis_tables(src, dst, tables);
}

}  // namespace kiln::ops
