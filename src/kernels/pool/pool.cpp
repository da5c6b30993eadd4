// Dispatch of the pooling kernels (baseline-compiled): the kernel sets of pool_list.h, best tier first.
#include "kernels/pool/pool.h"

#include <iterator>

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

size_t pool2d_scratch_floats(const Pool2dShape& shape) {
  // One input row, plus room for a vector of the widest tier past its end (stride-2 loads read up to two).
  return static_cast<size_t>(shape.in_w) + 64;
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
