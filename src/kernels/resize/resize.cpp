// Dispatch of the resize kernels (baseline-compiled): the kernel sets of resize_list.h, best tier first.
#include "kernels/resize/resize.h"

namespace kiln::kernels {

namespace {

constexpr ResizeKernels kSets[] = {
#define KILN_RESIZE_KERNELS(suffix, tier) {#suffix, IsaTier::tier, resize_linear_f32_##suffix, resize_nearest_f32_##suffix},
#include "kernels/resize/resize_list.h"
#undef KILN_RESIZE_KERNELS
};

}  // namespace

size_t resize_scratch_floats(const ResizeTables& t) {
  // Two rows, each rounded up to whole 64-byte lines so the second starts aligned.
  return 2 * ((static_cast<size_t>(t.out_w) + 15) / 16 * 16);
}

const ResizeKernels* resize_kernels(IsaTier tier) {
  const ResizeKernels* best = nullptr;
  for (const ResizeKernels& k : kSets)
    if (static_cast<int>(k.tier) <= static_cast<int>(tier) && isa_available(k.tier) &&
        (!best || static_cast<int>(k.tier) > static_cast<int>(best->tier)))
      best = &k;
  return best;
}

}  // namespace kiln::kernels
