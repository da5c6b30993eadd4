#pragma once
// Depthwise 2-D convolution on channels-last (NHWC) tensors, for the channels-last region of a mobile net (1x1
// convolutions as GEMMs on row-major activations, depthwise here, no transposes between them). The channels of a
// pixel are contiguous, so every tap of a vector of channels is one load and one FMA: no transposes (what
// kernels/dwchan pays on NCHW), no edge case for narrow planes or strides.
//
// A kernel computes a strip of output pixels of one row for one vector of channels, the strip's accumulators and
// (where they fit) the filter's taps in registers, each input pixel loaded once per strip and fed to every output
// of the strip that reads it. Each output row is split into left border / interior / right border pixels: only
// the border pixels clip taps at the padding; tap rows above or below the input are skipped. Bias, residual and
// the activation are fused; y is written once (rows are finished by apply_activation_f32 for the activations that
// RegisterActivation does not hold in registers).
//
// Work items are (image, band of output rows); an output's value does not depend on how items are split over
// threads (each is computed by one code path chosen from its row and column alone).

#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels {

/// One depthwise 2-D convolution, NHWC in and out.
struct DwNhwcShape {
  int64_t images = 1, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  ///< bottom/right padding follow from out_h/out_w
  int64_t band_rows = 0;  ///< output rows per work item; 0: dwnhwc_band_rows's default (no effect on the bits)
};

struct DwNhwcArgs {
  const float* x = nullptr;         ///< [images, in_h, in_w, channels] (ignored when x_rows is set)
  /// Where input rows lie when they are not one tensor: x_rows[n * in_h + ih] is row ih of image n ([in_w,
  /// channels]), e.g. a ring of rows a fused block computes just before (ops/inverted_residual_nhwc_prepared).
  const float* const* x_rows = nullptr;
  const float* packed_w = nullptr;  ///< dwnhwc_pack's output
  const float* bias = nullptr;      ///< [channels] or null
  const float* residual = nullptr;  ///< [images, out_h, out_w, channels] or null (may be y itself)
  float* y = nullptr;               ///< [images, out_h, out_w, channels]
  ActivationParams act;             ///< y = act(conv + bias + residual)
};

/// Channels of one packed block: the widest tier's lanes (AVX2 reads a block as two 8-lane halves).
inline constexpr int64_t kDwNhwcBlock = 16;

/// Largest kernel_h and kernel_w the kernels take (a tap row's pointers live on the stack).
inline constexpr int64_t kDwNhwcMaxKernel = 64;

/// Floats dwnhwc_pack writes for ONNX weights [channels, 1, kernel_h, kernel_w]: blocks of kDwNhwcBlock channels,
/// each kernel_h * kernel_w taps of kDwNhwcBlock floats (channels past the last are zeros, so every tier loads
/// whole vectors). The layout does not depend on the ISA tier (an engine file stores it).
size_t dwnhwc_packed_floats(int64_t channels, int64_t kernel_h, int64_t kernel_w);
void dwnhwc_pack(const float* w, int64_t channels, int64_t kernel_h, int64_t kernel_w, float* dst);

/// Whether the fast kernels take this shape: positive sizes, strides and dilations, non-negative pads, kernels up
/// to kDwNhwcMaxKernel. dwnhwc_f32 returns false otherwise.
bool dwnhwc_supports(const DwNhwcShape& s);

/// Output rows per work item: s.band_rows when set, else about 32K outputs, so that a 112x112 layer splits into
/// bands over threads while a 7x7 one stays a few items.
int64_t dwnhwc_band_rows(const DwNhwcShape& s);

/// The band rows dwnhwc_f32 uses on `threads` threads: the largest up to the default whose items give no thread
/// more than an even share of the rows (ceil(images * out_h / threads)). The default's 9-row bands of a 28-row
/// layer (MobileNet-v3's 28x28x120) are 4 items: 18 rows on one of 2 threads, 10 on the other; 7-row bands 14.
int64_t dwnhwc_balanced_band_rows(const DwNhwcShape& s, int64_t threads);

/// Work items of `s`: images x bands of dwnhwc_band_rows output rows.
int64_t dwnhwc_items(const DwNhwcShape& s);

/// A kernel of one ISA tier: work items [begin, end) of `s` (dwnhwc_supports must hold).
using DwNhwcFn = void (*)(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end);

/// The kernel compiled for `tier`, or null (there is no scalar one: dwnhwc_f32_ref is the oracle).
DwNhwcFn dwnhwc_kernel(IsaTier tier);

/// The AVX-512 kernel's 16-lane logic run on AVX2 instructions (tests only: it checks that logic on a CPU without
/// AVX-512; needs AVX2).
void dwnhwc_f32_avx512_logic(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end);

/// Runs at the active tier on `pool` (null: calling thread); false (nothing written) when no kernel fits.
/// The bits do not depend on the thread count.
bool dwnhwc_f32(const DwNhwcShape& s, const DwNhwcArgs& a, ThreadPool* pool);

/// The plain scalar oracle, straight from the ONNX definition (takes the ONNX weights, not packed ones).
void dwnhwc_f32_ref(const DwNhwcShape& s, const float* x, const float* w, const float* bias, const float* residual,
                    float* y, const ActivationParams& act);

/// Name of the kernel dwnhwc_f32 uses at the active tier ("dwnhwc_f32_avx512"), or null below AVX2.
const char* dwnhwc_kernel_name();

}  // namespace kiln::kernels
