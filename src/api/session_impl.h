#pragma once
// Session internals shared by the API's source files.

#include <map>
#include <mutex>
#include <set>

#include "api/op_support.h"
#include "ir/graph.h"
#include "kiln/session.h"
#include "runtime/executor.h"
#include "runtime/plan.h"

namespace kiln {

struct Session::Impl {
  Impl(ir::Model model, const SessionOptions& options);

  ir::Model model;
  runtime::OpsetTable opsets;
  runtime::Limits limits;
  std::vector<IoInfo> inputs, outputs;
  ModelInfo info;

  bool strict_symbols = false;
  std::function<void(const std::string&)> warn;

  /// Passes `message` to `warn` the first time `key` is warned about in this session.
  void warn_once(const std::string& key, const std::string& message);

  /// The plan for one input signature, built on first use.
  std::shared_ptr<const runtime::Plan> plan_for(const ir::Graph& graph,
                                                const std::unordered_map<int, ops::ValueInfo>& fed, bool* reused);

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const runtime::Plan>> plans_;
  std::set<std::string> warned_;
};


}  // namespace kiln
