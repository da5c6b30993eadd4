// Dispatch of the conversion kernels (baseline-compiled): the kernel sets of convert_list.h.
#include "kernels/convert/convert.h"

namespace kiln::kernels {

namespace {

constexpr ConvertKernels kSets[] = {
#define KILN_CONVERT_KERNELS(suffix, tier) {#suffix, IsaTier::tier, f32_to_f16_##suffix, f16_to_f32_##suffix, select32_##suffix},
#include "kernels/convert/convert_list.h"
#undef KILN_CONVERT_KERNELS
};

}  // namespace

const ConvertKernels* convert_kernels(IsaTier tier) {
  const ConvertKernels* best = nullptr;
  for (const ConvertKernels& k : kSets)
    if (static_cast<int>(k.tier) <= static_cast<int>(tier) && isa_available(k.tier) &&
        (!best || static_cast<int>(k.tier) > static_cast<int>(best->tier)))
      best = &k;
  return best;
}

}  // namespace kiln::kernels
