// Dispatch of the vrow family (baseline-compiled).
#include "kernels/vrow/vrow.h"

namespace kiln::kernels {

namespace {
const VRowKernels* const kVRowKernels[] = {
#define KILN_VROW(name, tier) &name,
#include "kernels/vrow/vrow_list.h"
#undef KILN_VROW
};
}  // namespace

std::span<const VRowKernels* const> vrow_kernels() { return kVRowKernels; }

const VRowKernels* vrow_kernels_for(IsaTier tier) {
  for (const VRowKernels* k : kVRowKernels)
    if (static_cast<int>(k->tier) <= static_cast<int>(tier)) return k;
  return nullptr;
}

}  // namespace kiln::kernels
