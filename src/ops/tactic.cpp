#include "ops/tactic.h"

namespace kiln::ops {

namespace {
thread_local TacticSource* tl_source = nullptr;
}  // namespace

size_t choose_tactic(const PrepareContext& ctx, std::span<const std::string> candidates, size_t rule) {
  if (!tl_source) return rule;
  const size_t chosen = tl_source->choose(ctx, candidates, rule);
  return chosen < candidates.size() ? chosen : rule;
}

TacticScope::TacticScope(TacticSource* source) : previous_(tl_source) { tl_source = source; }

TacticScope::~TacticScope() { tl_source = previous_; }

}  // namespace kiln::ops
