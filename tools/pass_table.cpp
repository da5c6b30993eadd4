#include "pass_table.h"

#include <fmt/format.h>

namespace kiln::cli {

std::string op_list(const std::map<std::string, int>& ops, bool signs) {
  std::string list;
  for (const auto& [op, n] : ops) list += fmt::format("{}{} {}{}", list.empty() ? "" : ", ", op, signs && n > 0 ? "+" : "", n);
  return list;
}

void print_pass_table(const std::vector<passes::PassRun>& runs) {
  fmt::print("{:<32} {:>7} {:>7} {:>9}  {}\n", "pass", "nodes", "removed", "ms", "what changed (nodes by op)");
  for (const passes::PassRun& r : runs)
    fmt::print("{:<32} {:>7} {:>7} {:>9.2f}  {}\n", r.name, r.nodes_after,
               static_cast<int64_t>(r.nodes_before) - static_cast<int64_t>(r.nodes_after), r.milliseconds,
               r.changed ? op_list(r.op_changes, true) : "-");
}

}  // namespace kiln::cli
