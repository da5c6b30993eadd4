// Dispatch of the Winograd transforms (baseline-compiled): the active tier's kernels from winograd_list.h.

#include "kernels/winograd/winograd.h"

namespace kiln::kernels {

#define KILN_WINOGRAD(name, tier, simd, tile)                                                                       \
  void name##_input(const WinogradShape&, const float*, int64_t, const WinogradSegment&, float*, float*);          \
  void name##_output(const WinogradShape&, const float*, int64_t, const WinogradSegment&, const float*, const float*, \
                     float*, const ActivationParams&);
#include "kernels/winograd/winograd_list.h"

namespace {

struct Entry {
  const char* name;
  IsaTier tier;
  int tile;
  WinogradInputFn input;
  WinogradOutputFn output;
};

constexpr Entry kWinogradKernels[] = {
#define KILN_WINOGRAD(name, tier, simd, tile) {#name, IsaTier::tier, tile, name##_input, name##_output},
#include "kernels/winograd/winograd_list.h"
};

const Entry* exact(IsaTier tier, int tile) {
  for (const Entry& e : kWinogradKernels)
    if (e.tier == tier && e.tile == tile) return &e;
  return nullptr;
}

}  // namespace

WinogradInputFn winograd_input_kernel(IsaTier tier, int tile) {
  if (tier == IsaTier::kRef) return tile == 4 ? winograd_f4k3_input_ref : winograd_f2k3_input_ref;
  const Entry* e = exact(tier, tile);
  return e ? e->input : nullptr;
}

WinogradOutputFn winograd_output_kernel(IsaTier tier, int tile) {
  if (tier == IsaTier::kRef) return tile == 4 ? winograd_f4k3_output_ref : winograd_f2k3_output_ref;
  const Entry* e = exact(tier, tile);
  return e ? e->output : nullptr;
}

const char* winograd_kernel_name(int tile) {
  const Entry* e = exact(active_isa(), tile);
  return e ? e->name : tile == 4 ? "winograd_f4k3_ref" : "winograd_f2k3_ref";
}

}  // namespace kiln::kernels
