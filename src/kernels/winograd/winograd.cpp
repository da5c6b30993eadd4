// Dispatch of the Winograd transforms (baseline-compiled): the active tier's kernels from winograd_list.h.

#include "kernels/winograd/winograd.h"

namespace kiln::kernels {

#define KILN_WINOGRAD(name, tier, simd)                                                                         \
  void name##_input(const WinogradShape&, const float*, int64_t, const WinogradSegment&, float*, float*);          \
  void name##_output(const WinogradShape&, const float*, int64_t, const WinogradSegment&, const float*, const float*, \
                     float*, const ActivationParams&);
#include "kernels/winograd/winograd_list.h"

namespace {

struct Entry {
  const char* name;
  IsaTier tier;
  WinogradInputFn input;
  WinogradOutputFn output;
};

constexpr Entry kKernels[] = {
#define KILN_WINOGRAD(name, tier, simd) {#name, IsaTier::tier, name##_input, name##_output},
#include "kernels/winograd/winograd_list.h"
};

const Entry* exact(IsaTier tier) {
  for (const Entry& e : kKernels)
    if (e.tier == tier) return &e;
  return nullptr;
}

}  // namespace

WinogradInputFn winograd_input_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return winograd_f2k3_input_ref;
  const Entry* e = exact(tier);
  return e ? e->input : nullptr;
}

WinogradOutputFn winograd_output_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return winograd_f2k3_output_ref;
  const Entry* e = exact(tier);
  return e ? e->output : nullptr;
}

const char* winograd_kernel_name() {
  const Entry* e = exact(active_isa());
  return e ? e->name : "winograd_f2k3_ref";
}

}  // namespace kiln::kernels
