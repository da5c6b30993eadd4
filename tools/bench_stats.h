#pragma once
// Figures `kiln bench` reports: latency percentiles of timed runs, and the per-node / per-op-type profile
// table built from RunOptions::profile (what `trtexec --dumpProfile` gives).

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "kiln/session.h"

namespace kiln::cli {

struct LatencySummary {
  double min = 0, mean = 0, median = 0, p90 = 0, p99 = 0, max = 0, stddev = 0;
};

/// Percentiles by linear interpolation between closest ranks (numpy's default, so the side-by-side script
/// computes ONNX Runtime's the same way); min <= median <= p90 <= p99 <= max always holds.
LatencySummary summarize_latencies(std::vector<double> milliseconds);

/// Time per node and per op type over profiled runs, each sorted by share (largest first).
struct ProfileTable {
  struct Node {
    std::string node, op_type, kernel;  ///< kernel: the prepared kernel's describe(), "" for the reference
    double ms = 0;                      ///< mean per run (median with ProfileCollector::table's `median`)
    double share = 0;                   ///< of total_ms, in percent
  };
  struct OpType {
    std::string op_type;
    size_t nodes = 0;
    double ms = 0, share = 0;
  };
  size_t runs = 0;
  bool median = false;  ///< nodes' medians over the runs rather than means
  double total_ms = 0;  ///< mean per run of the model graph's steps (subgraph steps are inside their node's)
  std::vector<Node> nodes;
  std::vector<OpType> op_types;
};

/// Collects StepProfile calls over several runs (give `sink()` to RunOptions::profile).
class ProfileCollector {
 public:
  void add(const StepProfile& step);
  /// The table averaged over `runs` runs; with `median`, each node's median over its runs instead (op types and
  /// the total then sum those medians): on a shared machine a mean takes in other processes' time slices.
  ProfileTable table(size_t runs, bool median = false) const;

 private:
  struct Entry {
    std::string node, op_type, kernel;
    double ms = 0;
    std::vector<double> each;  ///< one per run
  };
  std::map<size_t, Entry> by_index_;  ///< top-level steps only, by node index
};

}  // namespace kiln::cli
