// Dispatch of the pooling kernels (baseline-compiled): the kernel sets of pool_list.h, best tier first.
#include "kernels/pool/pool.h"

#include <algorithm>

namespace kiln::kernels {

namespace {

constexpr PoolKernels kSets[] = {
#define KILN_POOL_KERNELS(suffix, tier)                                                               \
  {#suffix, IsaTier::tier, maxpool2d_f32_##suffix, avgpool2d_f32_##suffix, global_maxpool_f32_##suffix, \
   global_avgpool_f32_##suffix},
#include "kernels/pool/pool_list.h"
#undef KILN_POOL_KERNELS
};

}  // namespace

size_t pool2d_scratch_floats(const Pool2dShape& s) {
  // A padded row (pool_impl.h's padded_row_floats), then the max kernels' staged first taps
  // (first_tap_floats) or the average kernels' table of output columns.
  const int64_t lanes = 16;  // the widest tier
  const int64_t padded = s.pad_left + s.in_w + std::max(s.out_w, lanes) * s.stride_w + s.kernel_w * s.dilation_w + lanes;
  const int64_t first_taps = (std::max(s.out_w, lanes) + lanes) * s.stride_w + 4 * lanes;
  return static_cast<size_t>(padded + std::max(first_taps, std::max(s.out_w, lanes)));
}

const PoolKernels* pool_kernels(IsaTier tier) {
  const PoolKernels* best = nullptr;
  for (const PoolKernels& k : kSets)
    if (static_cast<int>(k.tier) <= static_cast<int>(tier) && isa_available(k.tier) &&
        (!best || static_cast<int>(k.tier) > static_cast<int>(best->tier)))
      best = &k;
  return best;
}

}  // namespace kiln::kernels
