#pragma once
// Packed weights in engines (sections 4 and 5, engine/packed_index.h): the build records what prepare packs
// (PackedRecorder) and writes it; a load hands the saved bytes back to prepare in place when their key matches
// what prepare asks for (PackedLoader), and prepare packs as usual when it does not (another ISA tier, another
// kiln). Nothing of section 5 is read at load: each blob's checksum is checked once, before the first run of a
// kernel that uses it (runtime::PreparedGraph's first-run check), or at load when a reader outside the prepared
// kernels could see it.

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/session_impl.h"
#include "engine/packed_index.h"
#include "ops/op.h"

namespace kiln {

/// Build side: packs what prepare asks for and keeps it, with the node that asked, to be written.
class PackedRecorder final : public ops::PackedWeightSource {
 public:
  struct Recorded {
    const ir::Node* node;
    uint32_t node_seq, ordinal;
    ops::PackedKey key;
    ops::PackedBytes bytes;
  };
  ops::PackedBytes packed(const ops::PrepareContext& ctx, int ordinal, const ops::PackedKey& key, size_t size,
                          const ops::PackFn& pack) override;
  const std::vector<Recorded>& recorded() const { return recorded_; }

 private:
  std::vector<Recorded> recorded_;
};

/// The packed weights sections (index, data) of an engine of `impl`, built with `recorder` as its packed source.
/// Moves out of impl's model the large float32 initializers that only prepared kernels read (into the data
/// section), so serialise the model after this. Empty vectors when nothing was packed (KILN_ISA=ref).
std::pair<std::vector<uint8_t>, std::vector<uint8_t>> write_packed_sections(Session::Impl& impl,
                                                                            const PackedRecorder& recorder);

/// One blob of the data section and its checksum, checked at most once (thread-safe); verify() throws
/// Error(kInvalidModel) naming it when the bytes do not match.
class BlobCheck {
 public:
  BlobCheck(std::span<const uint8_t> bytes, uint64_t checksum, std::string what)
      : bytes_(bytes), checksum_(checksum), what_(std::move(what)) {}
  void verify();

 private:
  std::span<const uint8_t> bytes_;
  uint64_t checksum_;
  std::string what_;
  std::once_flag once_;
  bool ok_ = false;
};

/// Load side (see the top of this file). Counts what it served in place and what prepare packed.
class PackedLoader final : public ops::PackedWeightSource {
 public:
  PackedLoader(engine::PackedIndex index, std::span<const uint8_t> data, std::shared_ptr<const void> owner);
  /// Puts the raw weights back into `graph` (the top-level graph of the engine's model) as initializers viewing
  /// the data section; refuses a name the graph does not read or already defines. Before the session is made.
  void attach_raw_weights(ir::Graph& graph);
  ops::PackedBytes packed(const ops::PrepareContext& ctx, int ordinal, const ops::PackedKey& key, size_t size,
                          const ops::PackFn& pack) override;
  std::function<void()> first_run_check(const ops::PrepareContext& ctx) override;
  /// Once the session is made: checks now each raw weight that a reader without a first-run check could read
  /// (a node without a prepared kernel, e.g. under KILN_ISA=ref; a graph output; a subgraph).
  void check_unguarded_raw_weights(const Session::Impl& impl);
  size_t in_place() const { return in_place_; }
  size_t packed_here() const { return packed_here_; }

 private:
  std::vector<std::shared_ptr<BlobCheck>> raw_inputs_of(const ops::PrepareContext& ctx) const;

  engine::PackedIndex index_;
  std::span<const uint8_t> data_;
  std::shared_ptr<const void> owner_;
  std::map<std::pair<uint32_t, uint32_t>, size_t> by_request_;  ///< (node, ordinal) -> entry
  std::vector<std::shared_ptr<BlobCheck>> entry_checks_;
  std::unordered_map<size_t, std::vector<std::shared_ptr<BlobCheck>>> used_by_node_;  ///< node_seq -> in place
  const ir::Graph* graph_ = nullptr;
  std::unordered_map<int, std::shared_ptr<BlobCheck>> raw_by_value_;  ///< top-level value id -> its raw weight
  size_t in_place_ = 0, packed_here_ = 0;
};

}  // namespace kiln
