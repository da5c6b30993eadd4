// Dispatch of the channel-blocked depthwise kernels (baseline-compiled): the active tier's kernel from
// dwchan_list.h, work items spread over the pool, scratch per thread (no allocation once warm).

#include "kernels/dwchan/dwchan.h"

#include <algorithm>

#include "kernels/thread_scratch.h"

namespace kiln::kernels {

#define KILN_DWCHAN(name, tier, simd) \
  void name(const DwConvShape&, const DwConvArgs&, int64_t, int64_t, float*);
#include "kernels/dwchan/dwchan_list.h"

namespace {

constexpr KernelEntry<DwChanFn> kDwChanKernels[] = {
#define KILN_DWCHAN(name, tier, simd) {#name, IsaTier::tier, name},
#include "kernels/dwchan/dwchan_list.h"
};

}  // namespace

bool dwchan_supports(const DwConvShape& s, const DwConvArgs& a) {
  return a.groups == a.in_channels && a.groups == a.channels && !a.residual && s.kernel_h >= 1 && s.kernel_w >= 1 &&
         s.kernel_h <= kDwConvMaxKernel && s.kernel_w <= kDwConvMaxKernel &&
         (s.kernel_h - 1) * s.dilation_h + 1 <= kDwChanMaxRing && s.out_h > 0 && s.out_w > 0 && s.pad_left >= 0;
}

int64_t dwchan_band_rows(const DwConvShape& s) {
  return std::clamp<int64_t>(16384 / (kDwChanBlock * std::max<int64_t>(1, s.out_w)), 1, std::max<int64_t>(1, s.out_h));
}

int64_t dwchan_items(const DwConvShape& s, const DwConvArgs& a) {
  const int64_t band = dwchan_band_rows(s);
  return a.images * ((a.channels + kDwChanBlock - 1) / kDwChanBlock) * ((s.out_h + band - 1) / band);
}

size_t dwchan_scratch_floats(const DwConvShape& s) {
  const int64_t pw = (s.out_w - 1) * s.stride_w + (s.kernel_w - 1) * s.dilation_w + 1;
  const int64_t ring = (s.kernel_h - 1) * s.dilation_h + 1;
  return static_cast<size_t>(kDwChanBlock * ((ring + 1) * pw + s.out_w + s.kernel_h * s.kernel_w + 1));
}

DwChanFn dwchan_kernel(IsaTier tier) {
  const auto* e = entry_of_tier(kDwChanKernels, tier);
  return e ? e->fn : nullptr;
}

const char* dwchan_kernel_name() {
  const auto* e = best_entry(kDwChanKernels, active_isa());
  return e ? e->name : nullptr;
}

bool dwchan_f32(const DwConvShape& s, const DwConvArgs& a, ThreadPool* pool) {
  const auto* e = best_entry(kDwChanKernels, active_isa());
  if (!e || !dwchan_supports(s, a)) return false;
  const size_t floats = dwchan_scratch_floats(s);
  const int64_t items = dwchan_items(s, a);
  parallel_for(pool, static_cast<size_t>(items), [&](size_t item) {
    const auto i = static_cast<int64_t>(item);
    e->fn(s, a, i, i + 1, thread_scratch_floats(floats));
  });
  return true;
}

}  // namespace kiln::kernels
