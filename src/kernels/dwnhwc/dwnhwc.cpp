// Dispatch of the channels-last depthwise kernels (baseline-compiled): weight packing, the active tier's kernel
// from dwnhwc_list.h, work items spread over the pool (no scratch, no allocation).

#include "kernels/dwnhwc/dwnhwc.h"

#include <algorithm>

namespace kiln::kernels {

#define KILN_DWNHWC(name, tier, simd) void name(const DwNhwcShape&, const DwNhwcArgs&, int64_t, int64_t);
#include "kernels/dwnhwc/dwnhwc_list.h"

namespace {

constexpr KernelEntry<DwNhwcFn> kDwNhwcKernels[] = {
#define KILN_DWNHWC(name, tier, simd) {#name, IsaTier::tier, name},
#include "kernels/dwnhwc/dwnhwc_list.h"
};

int64_t blocks_of(int64_t channels) { return (channels + kDwNhwcBlock - 1) / kDwNhwcBlock; }

}  // namespace

size_t dwnhwc_packed_floats(int64_t channels, int64_t kernel_h, int64_t kernel_w) {
  return static_cast<size_t>(blocks_of(channels) * kernel_h * kernel_w * kDwNhwcBlock);
}

void dwnhwc_pack(const float* w, int64_t channels, int64_t kernel_h, int64_t kernel_w, float* dst) {
  const int64_t taps = kernel_h * kernel_w;
  for (int64_t b = 0; b < blocks_of(channels); ++b)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t l = 0; l < kDwNhwcBlock; ++l) {
        const int64_t c = b * kDwNhwcBlock + l;
        dst[(b * taps + t) * kDwNhwcBlock + l] = c < channels ? w[c * taps + t] : 0.0f;
      }
}

bool dwnhwc_supports(const DwNhwcShape& s) {
  return s.images > 0 && s.channels > 0 && s.in_h > 0 && s.in_w > 0 && s.out_h > 0 && s.out_w > 0 &&
         s.kernel_h > 0 && s.kernel_w > 0 && s.kernel_h <= kDwNhwcMaxKernel && s.kernel_w <= kDwNhwcMaxKernel &&
         s.stride_h > 0 && s.stride_w > 0 && s.dilation_h > 0 && s.dilation_w > 0 && s.pad_top >= 0 &&
         s.pad_left >= 0;
}

int64_t dwnhwc_band_rows(const DwNhwcShape& s) {
  if (s.band_rows > 0) return std::min(s.band_rows, std::max<int64_t>(1, s.out_h));
  return std::clamp<int64_t>(32768 / std::max<int64_t>(1, s.out_w * s.channels), 1, s.out_h);
}

int64_t dwnhwc_balanced_band_rows(const DwNhwcShape& s, int64_t threads) {
  DwNhwcShape d = s;
  d.band_rows = 0;
  const int64_t usual = dwnhwc_band_rows(d);
  if (threads <= 1 || s.images <= 0 || s.out_h <= 0) return usual;
  // The largest band up to the usual size whose items share out in whole items to ceil(rows / threads) rows
  // for the busiest thread (1-row bands always do).
  const int64_t even = (s.images * s.out_h + threads - 1) / threads;
  for (int64_t band = usual; band > 1; --band) {
    const int64_t items = s.images * ((s.out_h + band - 1) / band);
    if ((items + threads - 1) / threads * band <= even) return band;
  }
  return 1;
}

int64_t dwnhwc_items(const DwNhwcShape& s) {
  const int64_t band = dwnhwc_band_rows(s);
  return s.images * ((s.out_h + band - 1) / band);
}

DwNhwcFn dwnhwc_kernel(IsaTier tier) {
  const auto* e = entry_of_tier(kDwNhwcKernels, tier);
  return e ? e->fn : nullptr;
}

const char* dwnhwc_kernel_name() {
  const auto* e = best_entry(kDwNhwcKernels, active_isa());
  return e ? e->name : nullptr;
}

bool dwnhwc_f32(const DwNhwcShape& s, const DwNhwcArgs& a, ThreadPool* pool) {
  const auto* e = best_entry(kDwNhwcKernels, active_isa());
  if (!e || !dwnhwc_supports(s)) return false;
  // Bands that share out evenly over the threads (the bits do not depend on them).
  DwNhwcShape split = s;
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  if (split.band_rows <= 0) split.band_rows = dwnhwc_balanced_band_rows(s, threads);
  parallel_for(pool, static_cast<size_t>(dwnhwc_items(split)), [&](size_t item) {
    const auto i = static_cast<int64_t>(item);
    e->fn(split, a, i, i + 1);
  });
  return true;
}

}  // namespace kiln::kernels
