// Dispatch of the depthwise kernels (baseline-compiled): the active tier's plane kernel from dwconv_list.h,
// planes spread over the pool, scratch per thread reused across calls (no allocation once warm).

#include "kernels/dwconv/dwconv.h"

#include <vector>

#include "base/error.h"

namespace kiln::kernels {

#define KILN_DWCONV(name, tier, simd) \
  void name(const DwConvShape&, const DwConvPlane&, const ActivationParams&, float*);
#include "kernels/dwconv/dwconv_list.h"

namespace {

struct Entry {
  const char* name;
  IsaTier tier;
  DwConvPlaneFn fn;
};

constexpr Entry kKernels[] = {
#define KILN_DWCONV(name, tier, simd) {#name, IsaTier::tier, name},
#include "kernels/dwconv/dwconv_list.h"
};

const Entry* best_for(IsaTier tier) {
  const Entry* best = nullptr;
  for (const Entry& e : kKernels)
    if (static_cast<int>(e.tier) <= static_cast<int>(tier) && (!best || e.tier > best->tier)) best = &e;
  return best;
}

}  // namespace

size_t dwconv_scratch_floats(const DwConvShape& s) {
  return static_cast<size_t>(s.in_h * s.stride_w * dwconv_phase_row_floats(s));
}

DwConvPlaneFn dwconv_plane_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return dwconv_f32_ref;
  for (const Entry& e : kKernels)
    if (e.tier == tier) return e.fn;
  return nullptr;
}

const char* dwconv_kernel_name() {
  const Entry* e = best_for(active_isa());
  return e ? e->name : "dwconv_f32_ref";
}

void dwconv_f32(const DwConvShape& s, const DwConvArgs& a, ThreadPool* pool) {
  KILN_ASSERT(s.kernel_h <= kDwConvMaxKernel && s.kernel_w <= kDwConvMaxKernel);
  KILN_ASSERT(a.channels > 0 && a.channel_multiplier > 0 && a.channels % a.channel_multiplier == 0);
  const Entry* e = best_for(active_isa());
  const DwConvPlaneFn fn = e ? e->fn : dwconv_f32_ref;
  const size_t scratch_floats = dwconv_scratch_floats(s);
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w, taps = s.kernel_h * s.kernel_w;
  parallel_for(pool, static_cast<size_t>(a.planes), [&](size_t i) {
    thread_local std::vector<float> scratch;
    if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
    const int64_t p = static_cast<int64_t>(i);
    const int64_t image = p / a.channels, m = p % a.channels;
    DwConvPlane plane;
    plane.x = a.x + (image * (a.channels / a.channel_multiplier) + m / a.channel_multiplier) * in_plane;
    plane.w = a.w + m * taps;
    plane.bias = a.bias ? a.bias[m] : 0.0f;
    plane.residual = a.residual ? a.residual + p * out_plane : nullptr;
    plane.y = a.y + p * out_plane;
    fn(s, plane, a.act, scratch.data());
  });
}

}  // namespace kiln::kernels
