// Dispatch of the attention row kernels (baseline-compiled): the list's sets, best tier first.
#include "kernels/attention/attention.h"

namespace kiln::kernels {

namespace {
constexpr const AttentionRowKernels* kAttentionRowKernels[] = {
#define KILN_ATTENTION_ROWS(name, tier) &name,
#include "kernels/attention/attention_list.h"
#undef KILN_ATTENTION_ROWS
};
}  // namespace

std::span<const AttentionRowKernels* const> attention_row_kernels() { return kAttentionRowKernels; }

const AttentionRowKernels* attention_row_kernels_for(IsaTier tier) {
  for (const AttentionRowKernels* k : kAttentionRowKernels)
    if (static_cast<int>(k->tier) <= static_cast<int>(tier)) return k;
  return nullptr;
}

}  // namespace kiln::kernels
