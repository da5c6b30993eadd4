#pragma once
// Tactics in engines (section 6, engine/tactics.h). A node's prepare may offer candidate tactics
// (ops/tactic.h: Conv's "winograd-f4", "winograd-f2", "implicit-gemm"); without an engine its rule
// picks one. `kiln build` (TacticChooser) prepares each candidate of each top-level node alone, runs it on random
// inputs at the opt shape, keeps the fastest of those whose outputs match the op's reference kernel within the
// bound (rel-L2 kTacticBound), prepares the graph with those choices and records them; a timing cache file
// (--timing-cache) keeps the timings for a rebuild. A load (TacticLoader) hands the recorded choices back to
// prepare, timing nothing.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/session_impl.h"
#include "engine/tactics.h"
#include "ops/op.h"
#include "ops/tactic.h"

namespace kiln {

/// The largest relative L2 error against the reference kernel at which a candidate counts (the model tests'
/// limit against ONNX Runtime; Winograd F(4x4, 3x3) measures 1.5e-6 at 128 channels).
inline constexpr double kTacticBound = 1e-5;

/// The timings a build reads and adds to (--timing-cache): key + tactic -> milliseconds and match.
struct TacticTimings {
  struct Timing {
    double ms = -1;
    bool matched = false;
    bool from_file = false;  ///< read from the cache file (else measured by this build, maybe for a like node)
  };
  std::map<std::pair<std::string, std::string>, Timing> by_key;
  size_t added = 0;  ///< timings measured by this build
};

/// Build side, put in scope (ops::TacticScope) around the session's prepare: first records which nodes offer
/// tactics (prepare's rules still choose), then times them (time_all), then hands prepare the fastest (the
/// engine's final prepare).
class TacticChooser final : public ops::TacticSource {
 public:
  size_t choose(const ops::PrepareContext& ctx, std::span<const std::string> candidates, size_t rule) override;

  /// Times every candidate of every top-level node of `impl` that offered a choice, at the concrete shapes of
  /// `opt_infos` (a plan of the graph at the opt shape: ValueInfo per value id), on impl's thread pool: `runs`
  /// timed runs each, the fastest kept. Timings in `timings` are used instead of measuring (and new ones added).
  /// `progress(k, n, node name)` is told before each node. Returns the records, in node order.
  std::vector<engine::TacticRecord> time_all(const Session::Impl& impl, const std::vector<ops::ValueInfo>& opt_infos,
                                             int runs, TacticTimings& timings,
                                             const std::function<void(size_t, size_t, const std::string&)>& progress);
  /// Whether any recorded choice differs from prepare's rule (then the graph is prepared again).
  bool any_differs_from_rule() const;
  /// Every node back to its rule (the whole-network check found the choices no faster); returns the records.
  std::vector<engine::TacticRecord> back_to_rules();
  /// What identifies the whole-network check's timings in the cache: each timed node's key and choice.
  std::string network_key() const;

 private:
  struct Offer {
    const ir::Node* node;
    size_t index, node_seq;
    std::vector<std::string> candidates;
    size_t rule;
  };
  std::vector<Offer> offers_;
  bool recording_ = true;
  std::optional<size_t> forced_;  ///< while timing one candidate
  std::map<size_t, size_t> chosen_;  ///< node_seq -> candidate index
  std::vector<engine::TacticRecord> records_;
  std::vector<std::string> keys_;  ///< per record: its timing key
};

/// Load side, in scope around the engine session's prepare: the recorded choice for a node whose name, op and
/// candidate still match; the rule otherwise.
class TacticLoader final : public ops::TacticSource {
 public:
  explicit TacticLoader(const std::vector<engine::TacticRecord>& records);
  size_t choose(const ops::PrepareContext& ctx, std::span<const std::string> candidates, size_t rule) override;
  size_t applied() const { return applied_; }
  size_t not_applied() const { return not_applied_; }

 private:
  std::map<uint32_t, const engine::TacticRecord*> by_node_;
  size_t applied_ = 0, not_applied_ = 0;
};

/// What identifies a timing in the cache besides the CPU, ISA tier and kiln version (the file's header): the
/// node's op, opset and attributes, its inputs' types and opt-shape dims (and which are constants), the threads.
std::string timing_key(const ir::Node& node, int opset, std::span<const ops::ValueInfo* const> inputs, size_t threads);

/// Reads the timing cache at `path` into `timings`. A missing file is an empty cache; a file that is not a timing
/// cache, is damaged, or was written by another kiln, CPU or ISA tier is ignored with a warning (`warn`) naming
/// the file and why (it is rewritten at the end of the build). Never throws for the file's contents.
void read_timing_cache(const std::string& path, TacticTimings& timings, const std::function<void(std::string)>& warn);
/// Writes `timings` to `path` (through a temporary file renamed over it); a failure is a warning.
void write_timing_cache(const std::string& path, const TacticTimings& timings,
                        const std::function<void(std::string)>& warn);

}  // namespace kiln
