#include "kernels/isa.h"

#include <cpuinfo.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace kiln::kernels {

namespace {

IsaTier read_cpu() {
  if (!cpuinfo_initialize()) return IsaTier::kRef;
  // cpuinfo reports AVX features only when the OS saves the YMM/ZMM state (XGETBV), so these are safe to use.
  const bool avx2 = cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3() && cpuinfo_has_x86_f16c();
  const bool avx512 = avx2 && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512dq() &&
                      cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl();
  return avx512 ? IsaTier::kAvx512 : avx2 ? IsaTier::kAvx2 : IsaTier::kRef;
}

IsaTier cap_from_env() {
  const char* env = std::getenv("KILN_ISA");
  if (!env || !*env) return IsaTier::kAvx512;
  if (!std::strcmp(env, "ref")) return IsaTier::kRef;
  if (!std::strcmp(env, "avx2")) return IsaTier::kAvx2;
  if (!std::strcmp(env, "avx512")) return IsaTier::kAvx512;
  fail(ErrorCode::kInvalidArgument, "KILN_ISA='{}' is not a tier kiln knows; use ref, avx2 or avx512", env);
}

std::atomic<int>& cap() {
  static std::atomic<int> c{static_cast<int>(cap_from_env())};
  return c;
}

}  // namespace

std::string_view isa_name(IsaTier tier) {
  switch (tier) {
    case IsaTier::kRef: return "ref";
    case IsaTier::kAvx2: return "avx2";
    case IsaTier::kAvx512: return "avx512";
  }
  return "?";
}

IsaTier detected_isa() {
  static const IsaTier tier = read_cpu();
  return tier;
}

IsaTier active_isa() {
  return static_cast<IsaTier>(std::min(static_cast<int>(detected_isa()), cap().load(std::memory_order_relaxed)));
}

void set_isa_cap(IsaTier c) { cap().store(static_cast<int>(c), std::memory_order_relaxed); }

}  // namespace kiln::kernels
