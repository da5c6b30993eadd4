// Dispatch of the depthwise kernels (baseline-compiled): the active tier's plane kernel from dwconv_list.h,
// planes spread over the pool, scratch per thread reused across calls (no allocation once warm).

#include "kernels/dwconv/dwconv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/error.h"

namespace kiln::kernels {

#define KILN_DWCONV(name, tier, simd) \
  void name(const DwConvShape&, const DwConvArgs&, int64_t, int64_t, float*);
#include "kernels/dwconv/dwconv_list.h"

namespace {

struct Entry {
  const char* name;
  IsaTier tier;
  DwConvFn fn;
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
  return static_cast<size_t>((s.in_h + 1) * s.stride_w * dwconv_phase_row_floats(s));
}

DwConvFn dwconv_kernel(IsaTier tier) {
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
  KILN_ASSERT(s.kernel_h <= kDwConvMaxKernel && s.kernel_w <= kDwConvMaxKernel && s.stride_w <= kDwConvMaxKernel);
  KILN_ASSERT(a.channels > 0 && a.channel_multiplier > 0 && a.channels % a.channel_multiplier == 0);
  const Entry* e = best_for(active_isa());
  const DwConvFn fn = e ? e->fn : dwconv_f32_ref;
  const size_t scratch_floats = dwconv_scratch_floats(s);
  // Tasks of at least ~16K outputs, so a 7x7 plane is not a task on its own.
  const int64_t per_task = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, s.out_h * s.out_w));
  const int64_t tasks = (a.planes + per_task - 1) / per_task;
  parallel_for(pool, static_cast<size_t>(tasks), [&](size_t task) {
    thread_local std::vector<float> scratch;
    thread_local DwConvShape zeroed_for;  // the shape whose padding the scratch holds as zeros
    if (scratch.size() < scratch_floats || std::memcmp(&zeroed_for, &s, sizeof s) != 0) {
      if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
      std::fill(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(scratch_floats), 0.0f);
      zeroed_for = s;
    }
    const int64_t begin = static_cast<int64_t>(task) * per_task;
    fn(s, a, begin, std::min(a.planes, begin + per_task), scratch.data());
  });
}

}  // namespace kiln::kernels
