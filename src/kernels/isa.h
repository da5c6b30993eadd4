#pragma once
// The instruction-set tier kiln's fast kernels dispatch to, read once from the CPU (cpuinfo, which also checks
// that the OS saves the wide registers), never from the build machine: one binary runs on any x86-64.
// KILN_ISA=ref|avx2|avx512 caps the tier for tests and bug reports; it never raises it past what the CPU has.

#include <cstddef>
#include <string_view>

namespace kiln::kernels {

enum class IsaTier : int {
  kRef = 0,     ///< reference kernels only (plain C++, the oracle)
  kAvx2 = 1,    ///< x86-64 AVX2 + FMA3 + F16C
  kAvx512 = 2,  ///< AVX-512 F, DQ, BW and VL on top of kAvx2
};

/// "ref", "avx2", "avx512".
std::string_view isa_name(IsaTier tier);
/// The best tier this CPU supports.
IsaTier detected_isa();
/// The tier kernels dispatch to: detected_isa(), capped by KILN_ISA or set_isa_cap(). Read on every call
/// (cheap) so a test can switch tiers between sessions.
IsaTier active_isa();
/// Caps the active tier (tests; KILN_ISA sets the initial cap). A cap above detected_isa() has no effect.
void set_isa_cap(IsaTier cap);
/// True when the CPU can run kernels of `tier`.
inline bool isa_available(IsaTier tier) { return static_cast<int>(tier) <= static_cast<int>(detected_isa()); }

/// One line of a kernel family's list (`<family>_list.h`) as data: the kernel's name (as profiles and tests
/// print it), the tier its file is compiled for, and its code.
template <class Fn> struct KernelEntry {
  const char* name;
  IsaTier tier;
  Fn fn;
};

/// The dispatch rule of every kernel family, over its list's entries (any struct with a `tier` member): the
/// entry of the highest tier at or below `tier`, or null when there is none.
template <class Entry, std::size_t N> constexpr const Entry* best_entry(const Entry (&entries)[N], IsaTier tier) {
  const Entry* best = nullptr;
  for (const Entry& e : entries)
    if (e.tier <= tier && (!best || e.tier > best->tier)) best = &e;
  return best;
}

/// The entry compiled for exactly `tier` (the tests run every tier's kernel), or null.
template <class Entry, std::size_t N> constexpr const Entry* entry_of_tier(const Entry (&entries)[N], IsaTier tier) {
  for (const Entry& e : entries)
    if (e.tier == tier) return &e;
  return nullptr;
}

}  // namespace kiln::kernels
