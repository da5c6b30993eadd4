#pragma once
// The table of graph passes that `kiln optimize --verbose` and `kiln build --verbose` print: each pass, the
// nodes left, the nodes it removed, its time and what it changed, by op.

#include <map>
#include <string>
#include <vector>

#include "passes/pipeline.h"

namespace kiln::cli {

/// "Conv 53, Relu 49" (signs: "Add -4, ai.kiln.FusedConv +4").
std::string op_list(const std::map<std::string, int>& ops, bool signs);
/// Prints one line per pass run to stdout.
void print_pass_table(const std::vector<passes::PassRun>& runs);

}  // namespace kiln::cli
