// Dispatch of the depthwise kernels (baseline-compiled): the channel-blocked kernels (kernels/dwchan) where they
// apply, else the active tier's plane kernel from dwconv_list.h, planes spread over the pool, scratch per thread
// reused across calls (no allocation once warm).

#include "kernels/dwconv/dwconv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "kernels/dwchan/dwchan.h"
#include "kernels/stemconv/stemconv.h"

namespace kiln::kernels {

#define KILN_DWCONV(name, tier, simd) \
  void name(const DwConvShape&, const DwConvArgs&, int64_t, int64_t, float*);
#include "kernels/dwconv/dwconv_list.h"

namespace {

constexpr KernelEntry<DwConvFn> kDwConvKernels[] = {
#define KILN_DWCONV(name, tier, simd) {#name, IsaTier::tier, name},
#include "kernels/dwconv/dwconv_list.h"
};

}  // namespace

size_t dwconv_scratch_floats(const DwConvShape& s, const DwConvArgs& a) {
  return static_cast<size_t>(a.group_in() * (s.in_h + 1) * s.stride_w * dwconv_phase_row_floats(s));
}

DwConvFn dwconv_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return dwconv_f32_ref;
  const auto* e = entry_of_tier(kDwConvKernels, tier);
  return e ? e->fn : nullptr;
}

const char* dwconv_kernel_name() {
  const auto* e = best_entry(kDwConvKernels, active_isa());
  return e ? e->name : "dwconv_f32_ref";
}

void dwconv_f32(const DwConvShape& s, const DwConvArgs& a, ThreadPool* pool) {
  KILN_ASSERT(s.kernel_h <= kDwConvMaxKernel && s.kernel_w <= kDwConvMaxKernel && s.stride_w <= kDwConvMaxKernel);
  KILN_ASSERT(a.groups > 0 && a.in_channels % a.groups == 0 && a.channels % a.groups == 0);
  KILN_ASSERT(a.group_in() <= kDwConvMaxGroupIn);
  // Depthwise without a residual: channels in the lanes, faster on every MobileNet/EfficientNet layer measured
  // (Zen 2, AVX2, one thread: 1.0x on 32 channels of 112x112 at stride 1, 1.3x to 2x on 56x56 down to 7x7 at
  // stride 1, 2x to 5x at stride 2; benchmarks/dwconv_bench.cpp).
  if (dwchan_f32(s, a, pool)) return;
  // One group of up to 4 input channels (an RGB stem) without a residual: output channels in the lanes
  // (kernels/stemconv; measured in its commit).
  if (stemconv_f32(s, a, pool)) return;
  const auto* e = best_entry(kDwConvKernels, active_isa());
  const DwConvFn fn = e ? e->fn : dwconv_f32_ref;
  const size_t scratch_floats = dwconv_scratch_floats(s, a);
  // Tasks of at least ~16K outputs (a 7x7 plane is not a task on its own), and items of one (image, group) kept
  // together unless the pool needs them apart: each task splits its groups' input into scratch once.
  const int64_t items = a.items(), per_group = items / (a.images * a.groups);
  const int64_t outputs = a.block() * s.out_h * s.out_w, threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  const int64_t per_task = std::max({int64_t{1}, 16384 / std::max<int64_t>(1, outputs), (per_group + threads - 1) / threads});
  const int64_t tasks = (items + per_task - 1) / per_task;
  parallel_for(pool, static_cast<size_t>(tasks), [&](size_t task) {
    struct Scratch {
      std::vector<float> data;
      DwConvShape shape;  // the shape whose padding `data` holds as zeros,
      size_t zeroed = 0;  // over this many floats
    };
    thread_local Scratch scratch;
    if (scratch.zeroed < scratch_floats || std::memcmp(&scratch.shape, &s, sizeof s) != 0) {
      if (scratch.data.size() < scratch_floats) scratch.data.resize(scratch_floats);
      std::fill(scratch.data.begin(), scratch.data.begin() + static_cast<std::ptrdiff_t>(scratch_floats), 0.0f);
      scratch.shape = s;
      scratch.zeroed = scratch_floats;
    }
    const int64_t begin = static_cast<int64_t>(task) * per_task;
    fn(s, a, begin, std::min(items, begin + per_task), scratch.data.data());
  });
}

}  // namespace kiln::kernels
