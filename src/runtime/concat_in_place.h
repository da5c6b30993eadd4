#pragma once
// Concats whose inputs are written straight into their slices of the output. A Concat along an axis with only
// 1-sized dims before it (axis 1 at batch 1: SqueezeNet's fire modules, Inception-style branches) places each
// input in one contiguous byte range of the output, so each producer can write there and the Concat copies
// nothing. Measured before (Zen 2, SqueezeNet 1.1, batch 1): its 8 Concats took 0.23 ms at 1 thread and 0.45 ms at
// 2 (each thread's copy wrote lines the other core had just written).
//
// Chosen at plan time, per shape: the plan then gives each input the arena offset of its slice (the Concat's
// output is one arena buffer, alive from the first producer on), and the Concat step only copies an input that
// is not where its slice is (a kernel may hand back a tensor of its own through set_output).
//
// At batch > 1 (axis 1 or later, the dims between 0 and the axis 1) an input's images lie an output image apart:
// taken when every producer's kernel writes its images at a stride (PreparedKernel::writes_strided_images: the
// convolutions), which the plan then sets (Step::output_image_stride). SqueezeNet 1.1 at batch 8: its 8 Concats
// took 4.3 ms of 72.7 at 1 thread (Zen 3) before.

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "ops/op.h"
#include "runtime/plan.h"

namespace kiln::runtime {

struct InPlaceConcat {
  int step = -1;                     ///< the Concat's step
  int output = -1;                   ///< its output value
  std::vector<int> inputs;           ///< its input values, in order
  std::vector<int64_t> byte_offsets; ///< where each input starts inside the output (multiples of 64)
  int64_t image_bytes = 0;           ///< bytes between the output's images when its inputs' lie apart, else 0
};

/// The Concats of `steps` that can take their inputs in place. An input qualifies when a step of this plan with
/// known shapes writes it (not a view, a constant or a fed value), the Concat is its only reader (no subgraph
/// reads it by name: `implicit_inputs`), it is not a graph output, and no other Concat claims it; the output must
/// be an arena value (not a graph output), every slice non-empty and 64-byte aligned (kernels may assume their
/// outputs are); at batch > 1 each input's producer writes its images at a stride (its output 0, a prepared
/// kernel that writes_strided_images). `root[v]` is v unless v views another value's memory.
std::vector<InPlaceConcat> find_in_place_concats(const ir::Graph& graph, const std::vector<Step>& steps,
                                                 const std::vector<ops::ValueInfo>& infos,
                                                 const std::vector<Tensor>& constants, const std::vector<int>& root,
                                                 const std::vector<char>& is_output,
                                                 const std::vector<std::vector<int>>& implicit_inputs);

}  // namespace kiln::runtime
