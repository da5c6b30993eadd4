#pragma once
// A test-only fault switch for `kiln reduce`'s test: with KILN_TEST_FAULT_NODE=<node name> in the environment,
// the executor adds 1 to every element of that node's first float output after its kernel ran, so a tool that
// bisects a model to the node whose output is wrong can be tested on a fault whose place is known. Unset (always,
// outside tests), it costs one comparison per step against an empty name.

#include <string>

#include "kiln/tensor.h"

namespace kiln::runtime {

/// The node name KILN_TEST_FAULT_NODE names (read once per process), or "".
const std::string& test_fault_node();
/// Adds 1 to every element of `t` when it is a float32 tensor.
void inject_test_fault(Tensor& t);

}  // namespace kiln::runtime
