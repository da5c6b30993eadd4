#pragma once
// Resource limits for one session: what a hostile or mistaken model may ask for.

#include <cstdint>

namespace kiln::runtime {

struct Limits {
  /// Largest single tensor a run may allocate (default 8 GiB).
  int64_t max_tensor_bytes = int64_t{8} << 30;
  /// Most memory one run may hold at once: arena plus dynamically sized tensors (default 16 GiB).
  int64_t max_run_bytes = int64_t{16} << 30;
  /// Deepest subgraph nesting accepted (If/Loop/Scan bodies), as ONNX Runtime.
  int max_nesting = 32;
  /// Most subgraph executions (Loop iterations, Scan steps, If branches) in one run: a Loop whose trip count
  /// or condition never ends stops here with a clear error instead of hanging (default 1,000,000).
  int64_t max_subgraph_runs = 1'000'000;
  /// Most multiply-adds one run may do, as the ops' estimates (OpSchema::macs) count them; 0 = no limit.
  int64_t max_run_macs = 0;
};

}  // namespace kiln::runtime
