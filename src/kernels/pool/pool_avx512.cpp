// Pooling kernels for AVX-512 F/DQ/BW/VL (16 lanes). Functions only: no static initializers in an ISA file.
// GCC 12 warns that _mm512_undefined_ps() inside its own intrinsics "may be used uninitialized": a false
// positive of the compiler's headers, not of this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/pool/pool_impl.h"
#include "kernels/simd/simd_extra.h"

namespace kiln::kernels {
namespace {
// AVX2's 8 lanes for stride-2 max pool rows too narrow for 16 (pool_impl.h's maxpool2d), as this file's own type:
// instantiated over simd::Avx2Ext itself, the templates would share their names with pool_avx2.cpp's, and the
// linker could keep this file's AVX-512-compiled copies for the AVX2 tier.
struct Avx2Narrow : simd::Avx2Ext {};
}  // namespace
KILN_DEFINE_POOL_KERNELS(avx512, simd::Avx512Ext, Avx2Narrow)
}  // namespace kiln::kernels
