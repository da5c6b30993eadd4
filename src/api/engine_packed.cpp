#include "api/engine_packed.h"

#include <cstdlib>
#include <cstring>
#include <set>

#include "engine/checksum.h"
#include "engine/engine_file.h"

namespace kiln {

namespace {

// Initializers at least this large move to the data section when only prepared kernels read them: below it,
// checking them with the model section at load costs less than tracking them.
constexpr size_t kRawWeightMinBytes = 16 << 10;

std::shared_ptr<void> aligned_bytes(size_t size) {
  void* p = std::aligned_alloc(64, std::max<size_t>((size + 63) / 64 * 64, 64));
  if (!p) fail(ErrorCode::kLimitExceeded, "cannot allocate {} bytes of packed weights", size);
  return std::shared_ptr<void>(p, std::free);
}

// Names of values some subgraph reads from an enclosing graph (they may be a top-level initializer).
void outer_reads(const ir::Graph& g, std::set<std::string>& names) {
  for (const ir::Node& node : g.nodes)
    for (const auto& a : node.attributes) {
      std::vector<const ir::Graph*> subs;
      if (a.g) subs.push_back(a.g.get());
      for (const auto& s : a.graphs) subs.push_back(s.get());
      for (const ir::Graph* s : subs) {
        for (int id : s->outer_refs) names.insert(s->value(id).name);
        outer_reads(*s, names);
      }
    }
}

// Whether every reader of top-level value `id` is a node with a prepared kernel (so a first-run check guards
// it), and the value is no graph input or output and no subgraph reads it.
bool read_only_by_prepared(const Session::Impl& impl, int id, const std::set<std::string>& outer) {
  const ir::Graph& g = *impl.model.graph;
  if (std::find(g.outputs.begin(), g.outputs.end(), id) != g.outputs.end()) return false;
  if (std::find(g.inputs.begin(), g.inputs.end(), id) != g.inputs.end()) return false;
  if (outer.count(g.value(id).name)) return false;
  bool read = false;
  for (const ir::Node& node : g.nodes)
    if (std::find(node.inputs.begin(), node.inputs.end(), id) != node.inputs.end()) {
      if (!impl.prepared || !impl.prepared->kernel(&node)) return false;
      read = true;
    }
  return read;
}

// Appends a blob at the next 64-byte boundary; returns its offset.
uint64_t append_blob(std::vector<uint8_t>& data, const void* bytes, size_t size) {
  data.resize((data.size() + engine::kSectionAlignment - 1) / engine::kSectionAlignment * engine::kSectionAlignment);
  const uint64_t offset = data.size();
  data.resize(data.size() + size);
  if (size) std::memcpy(data.data() + offset, bytes, size);
  return offset;
}

}  // namespace

ops::PackedBytes PackedRecorder::packed(const ops::PrepareContext& ctx, int ordinal, const ops::PackedKey& key,
                                        size_t size, const ops::PackFn& pack) {
  std::shared_ptr<void> owner = aligned_bytes(size);
  if (size > 0) pack(owner.get(), size);
  ops::PackedBytes b{owner.get(), size, owner};
  recorded_.push_back({&ctx.node(), static_cast<uint32_t>(ctx.node_seq()), static_cast<uint32_t>(ordinal), key, b});
  return b;
}

std::pair<std::vector<uint8_t>, std::vector<uint8_t>> write_packed_sections(Session::Impl& impl,
                                                                            const PackedRecorder& recorder) {
  engine::PackedIndex index;
  std::vector<uint8_t> data;
  for (const PackedRecorder::Recorded& r : recorder.recorded()) {
    if (!impl.prepared || !impl.prepared->kernel(r.node)) continue;  // prepare packed, then declined the node
    engine::PackedEntry e;
    e.node = r.node_seq, e.ordinal = r.ordinal;
    e.what = r.key.what, e.layout = r.key.layout, e.sizes = r.key.sizes;
    e.offset = append_blob(data, r.bytes.data, r.bytes.size);
    e.bytes = r.bytes.size;
    e.checksum = engine::checksum64({data.data() + e.offset, e.bytes});
    index.entries.push_back(std::move(e));
  }
  ir::Graph& g = *impl.model.graph;
  std::set<std::string> outer;
  outer_reads(g, outer);
  std::vector<int> moved;
  for (const auto& [id, t] : g.initializers)
    if (t.is_tensor() && t.dtype() == DType::kFloat32 && t.nbytes() >= kRawWeightMinBytes &&
        read_only_by_prepared(impl, id, outer))
      moved.push_back(id);
  std::sort(moved.begin(), moved.end());  // the file does not depend on the map's order
  for (int id : moved) {
    const Tensor& t = g.initializers.at(id);
    engine::RawWeight w;
    w.name = g.value(id).name;
    w.dims = t.dims();
    w.offset = append_blob(data, t.raw_data(), t.nbytes());
    w.bytes = t.nbytes();
    w.checksum = engine::checksum64({data.data() + w.offset, w.bytes});
    index.raw.push_back(std::move(w));
    g.initializers.erase(id);
  }
  if (index.entries.empty() && index.raw.empty()) return {};
  return {engine::encode_packed_index(index), std::move(data)};
}

void BlobCheck::verify() {
  std::call_once(once_, [this] { ok_ = engine::checksum64(bytes_) == checksum_; });
  if (!ok_)
    fail(ErrorCode::kInvalidModel, "the engine's {} fails its checksum: the file is corrupt; rebuild it with kiln "
         "build", what_);
}

PackedLoader::PackedLoader(engine::PackedIndex index, std::span<const uint8_t> data, std::shared_ptr<const void> owner)
    : index_(std::move(index)), data_(data), owner_(std::move(owner)) {
  for (size_t i = 0; i < index_.entries.size(); ++i) {
    const engine::PackedEntry& e = index_.entries[i];
    by_request_[{e.node, e.ordinal}] = i;
    entry_checks_.push_back(std::make_shared<BlobCheck>(
        data_.subspan(e.offset, e.bytes), e.checksum,
        fmt::format("packed weights '{}' of node {} ({})", e.what, e.node, e.layout)));
  }
}

void PackedLoader::attach_raw_weights(ir::Graph& graph) {
  graph_ = &graph;
  for (const engine::RawWeight& w : index_.raw) {
    const int id = graph.find(w.name);
    if (id < 0 || graph.initializers.count(id) ||
        std::find(graph.inputs.begin(), graph.inputs.end(), id) != graph.inputs.end())
      fail(ErrorCode::kInvalidModel, "the engine's raw weight '{}' {} in its model; rebuild the engine with kiln build",
           w.name, id < 0 ? "names no value" : "names a value already defined");
    auto check = std::make_shared<BlobCheck>(data_.subspan(w.offset, w.bytes), w.checksum,
                                             fmt::format("weight '{}'", w.name));
    const uint8_t* at = data_.data() + w.offset;
    if (reinterpret_cast<uintptr_t>(at) % engine::kSectionAlignment != 0) {
      // Engine bytes that are not where a mapping puts them (64-byte aligned): checked and copied now.
      check->verify();
      Tensor copy(DType::kFloat32, w.dims);
      if (w.bytes > 0) std::memcpy(copy.raw_data(), at, w.bytes);
      graph.initializers.emplace(id, std::move(copy));
    } else {
      graph.initializers.emplace(id, Tensor::view(DType::kFloat32, w.dims, at, owner_));
    }
    raw_by_value_[id] = std::move(check);
  }
}

std::vector<std::shared_ptr<BlobCheck>> PackedLoader::raw_inputs_of(const ops::PrepareContext& ctx) const {
  std::vector<std::shared_ptr<BlobCheck>> checks;
  if (!graph_ || graph_->nodes.empty()) return checks;
  const ir::Node* node = &ctx.node();
  if (node < graph_->nodes.data() || node >= graph_->nodes.data() + graph_->nodes.size()) return checks;  // a subgraph's
  for (int id : node->inputs)
    if (auto it = raw_by_value_.find(id); it != raw_by_value_.end()) checks.push_back(it->second);
  return checks;
}

ops::PackedBytes PackedLoader::packed(const ops::PrepareContext& ctx, int ordinal, const ops::PackedKey& key,
                                      size_t size, const ops::PackFn& pack) {
  auto it = by_request_.find({static_cast<uint32_t>(ctx.node_seq()), static_cast<uint32_t>(ordinal)});
  if (it != by_request_.end()) {
    const engine::PackedEntry& e = index_.entries[it->second];
    const uint8_t* at = data_.data() + e.offset;
    if (e.what == key.what && e.layout == key.layout && e.sizes == key.sizes && e.bytes == size &&
        reinterpret_cast<uintptr_t>(at) % 64 == 0) {
      used_by_node_[ctx.node_seq()].push_back(entry_checks_[it->second]);
      ++in_place_;
      return {at, size, owner_};
    }
  }
  // Packed here from the raw weights, which are checked first: packing reads them now.
  for (const auto& check : raw_inputs_of(ctx)) check->verify();
  ++packed_here_;
  std::shared_ptr<void> owner = aligned_bytes(size);
  if (size > 0) pack(owner.get(), size);
  return {owner.get(), size, owner};
}

std::function<void()> PackedLoader::first_run_check(const ops::PrepareContext& ctx) {
  std::vector<std::shared_ptr<BlobCheck>> checks = raw_inputs_of(ctx);
  if (auto it = used_by_node_.find(ctx.node_seq()); it != used_by_node_.end())
    checks.insert(checks.end(), it->second.begin(), it->second.end());
  if (checks.empty()) return {};
  return [checks = std::move(checks)] {
    for (const auto& c : checks) c->verify();
  };
}

void PackedLoader::check_unguarded_raw_weights(const Session::Impl& impl) {
  std::set<std::string> outer;
  outer_reads(*impl.model.graph, outer);
  for (const auto& [id, check] : raw_by_value_)
    if (!read_only_by_prepared(impl, id, outer)) check->verify();
}

}  // namespace kiln
