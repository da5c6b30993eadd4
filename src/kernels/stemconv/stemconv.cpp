// Dispatch of the few-input-channel convolution kernels (baseline-compiled): the active tier's kernel from
// stemconv_list.h, work items spread over the pool, scratch per thread (no allocation once warm).

#include "kernels/stemconv/stemconv.h"

#include <algorithm>

#include "kernels/dwchan/dwchan.h"
#include "kernels/thread_scratch.h"

namespace kiln::kernels {

#define KILN_STEMCONV(name, tier, simd) \
  void name(const DwConvShape&, const DwConvArgs&, int64_t, int64_t, float*);
#include "kernels/stemconv/stemconv_list.h"

namespace {

constexpr KernelEntry<StemConvFn> kStemConvKernels[] = {
#define KILN_STEMCONV(name, tier, simd) {#name, IsaTier::tier, name},
#include "kernels/stemconv/stemconv_list.h"
};

}  // namespace

bool stemconv_supports(const DwConvShape& s, const DwConvArgs& a) {
  return a.groups == 1 && a.in_channels >= 1 && a.in_channels <= kStemConvMaxIn && a.channels >= 1 && !a.residual &&
         s.kernel_h >= 1 && s.kernel_w >= 1 && s.kernel_h <= kDwConvMaxKernel && s.kernel_w <= kDwConvMaxKernel &&
         (s.kernel_h - 1) * s.dilation_h + 1 <= 64 && s.out_h > 0 && s.out_w > 0 && s.pad_left >= 0;
}

// 16 bands of an image: enough items to share between threads, each band long enough that the input rows its
// first output row splits (and the next band splits again) are a small part of the rows it reads.
int64_t stemconv_band_rows(const DwConvShape& s) { return std::max<int64_t>(1, (s.out_h + 15) / 16); }

int64_t stemconv_items(const DwConvShape& s, const DwConvArgs& a) {
  const int64_t band = stemconv_band_rows(s);
  return a.images * ((s.out_h + band - 1) / band);
}

size_t stemconv_scratch_floats(const DwConvShape& s, const DwConvArgs& a) {
  const int64_t sw = std::max<int64_t>(1, s.stride_w);
  const int64_t phase_len = (s.out_w + kStemConvMaxVector - 1) / kStemConvMaxVector * kStemConvMaxVector +
                            (s.kernel_w - 1) * s.dilation_w / sw + 1;
  const int64_t ring = (s.kernel_h - 1) * s.dilation_h + 1;
  // The ring, a zero row, a padded row, the packed filters (channels rounded up to a block of at most 8).
  const int64_t packed = (a.channels + 7) * a.in_channels * s.kernel_h * s.kernel_w;
  return static_cast<size_t>((a.in_channels * ring + 2) * sw * phase_len + packed);
}

StemConvFn stemconv_kernel(IsaTier tier) {
  const auto* e = entry_of_tier(kStemConvKernels, tier);
  return e ? e->fn : nullptr;
}

const char* stemconv_kernel_name() {
  const auto* e = best_entry(kStemConvKernels, active_isa());
  return e ? e->name : nullptr;
}

bool stemconv_f32(const DwConvShape& s, const DwConvArgs& a, ThreadPool* pool) {
  const auto* e = best_entry(kStemConvKernels, active_isa());
  if (!e || !stemconv_supports(s, a)) return false;
  const size_t floats = stemconv_scratch_floats(s, a);
  parallel_for(pool, static_cast<size_t>(stemconv_items(s, a)), [&](size_t item) {
    const auto i = static_cast<int64_t>(item);
    e->fn(s, a, i, i + 1, thread_scratch_floats(floats));
  });
  return true;
}

}  // namespace kiln::kernels
