#include "api/engine_tactics.h"

#include <cpuinfo.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/ranges.h>

#include "base/mapped_file.h"
#include "engine/engine_file.h"
#include "kernels/isa.h"
#include "runtime/node_preparer.h"

namespace kiln {

namespace {

// Timed runs stop early once a candidate has run this long in total (a slow candidate of a large layer).
constexpr double kMaxSecondsPerCandidate = 0.5;

// The CPU's name as cpuinfo reads it ("AMD EPYC 7B12"): what the timing cache's timings are keyed by.
std::string cpu_name() {
  if (!cpuinfo_initialize() || cpuinfo_get_packages_count() == 0) return "unknown";
  return cpuinfo_get_package(0)->name;
}

bool in_top_level(const ir::Graph& g, const ir::Node* node) {
  return !g.nodes.empty() && node >= g.nodes.data() && node < g.nodes.data() + g.nodes.size();
}

std::string attr_str(const ir::Attribute& a) {
  switch (a.type) {
    case ir::AttrType::kInt: return std::to_string(a.i);
    case ir::AttrType::kFloat: return fmt::format("{}", a.f);
    case ir::AttrType::kString: return "'" + a.s + "'";
    case ir::AttrType::kInts: return fmt::format("[{}]", fmt::join(a.ints, ","));
    case ir::AttrType::kFloats: return fmt::format("[{}]", fmt::join(a.floats, ","));
    case ir::AttrType::kStrings: return fmt::format("[{}]", fmt::join(a.strings, ","));
    case ir::AttrType::kTensor: return fmt::format("tensor {} {}", dtype_name(a.t.dtype()), dims_str(a.t.dims()));
    default: return "?";
  }
}

// Relative L2 distance of b from a (float32 tensors of one size); infinity when b holds a NaN or infinity.
double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (!std::isfinite(y[i])) return INFINITY;
    const double d = static_cast<double>(x[i]) - y[i];
    num += d * d, den += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// One node made runnable alone at the opt shape: constant inputs as the graph holds them, the others random.
struct NodeRun {
  std::vector<Tensor> inputs;
  std::vector<const Tensor*> input_ptrs;
  std::vector<ops::ValueInfo> infos;
  std::vector<const ops::ValueInfo*> info_ptrs;
  std::vector<std::pair<DType, std::vector<int64_t>>> outputs;

  // False when an input or output is not a float32 tensor of known size (such a node is not timed).
  bool make(const ir::Node& node, const std::vector<ops::ValueInfo>& opt, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    inputs.resize(node.inputs.size());
    input_ptrs.assign(node.inputs.size(), nullptr);
    infos.resize(node.inputs.size());
    info_ptrs.assign(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v < 0) continue;
      const ops::ValueInfo& info = opt.at(static_cast<size_t>(v));
      if (info.is_container() || !info.shape.is_concrete()) return false;
      infos[i] = info;
      info_ptrs[i] = &infos[i];
      if (info.value) {
        input_ptrs[i] = info.value;
        continue;
      }
      if (info.dtype != DType::kFloat32) return false;
      inputs[i] = Tensor(DType::kFloat32, info.shape.values());
      for (int64_t e = 0; e < inputs[i].numel(); ++e) inputs[i].data<float>()[e] = dist(rng);
      input_ptrs[i] = &inputs[i];
    }
    for (int v : node.outputs) {
      if (v < 0) return false;
      const ops::ValueInfo& info = opt.at(static_cast<size_t>(v));
      if (info.is_container() || info.dtype != DType::kFloat32 || !info.shape.is_concrete()) return false;
      outputs.emplace_back(info.dtype, info.shape.values());
    }
    return true;
  }

  std::vector<Tensor> fresh_outputs() const {
    std::vector<Tensor> out;
    for (const auto& [dtype, dims] : outputs) out.emplace_back(dtype, dims);
    return out;
  }
};

}  // namespace

std::string timing_key(const ir::Node& node, int opset, std::span<const ops::ValueInfo* const> inputs, size_t threads) {
  std::string key = fmt::format("{}:{} opset {} |", node.domain.empty() ? "ai.onnx" : node.domain, node.op_type, opset);
  std::vector<const ir::Attribute*> attrs;
  for (const auto& a : node.attributes) attrs.push_back(&a);
  std::sort(attrs.begin(), attrs.end(), [](const auto* x, const auto* y) { return x->name < y->name; });
  for (const ir::Attribute* a : attrs) key += fmt::format(" {}={}", a->name, attr_str(*a));
  key += " | inputs";
  for (const ops::ValueInfo* in : inputs) {
    if (!in) {
      key += " -";
      continue;
    }
    key += fmt::format(" {} {}{}", dtype_name(in->dtype), in->shape.str(), in->value ? " const" : "");
  }
  return key + fmt::format(" | threads {}", threads);
}

size_t TacticChooser::choose(const ops::PrepareContext& ctx, std::span<const std::string> candidates, size_t rule) {
  if (forced_) return *forced_;
  if (recording_) {
    offers_.push_back({&ctx.node(), ctx.node_index(), ctx.node_seq(),
                       std::vector<std::string>(candidates.begin(), candidates.end()), rule});
    return rule;
  }
  auto it = chosen_.find(ctx.node_seq());
  return it == chosen_.end() ? rule : it->second;
}

std::vector<engine::TacticRecord> TacticChooser::time_all(
    const Session::Impl& impl, const std::vector<ops::ValueInfo>& opt_infos, int runs, TacticTimings& timings,
    const std::function<void(size_t, size_t, const std::string&)>& progress) {
  recording_ = false;
  const ir::Graph& g = *impl.model.graph;
  if (opt_infos.size() != g.values.size()) return {};  // no plan at the opt shape (sequence inputs): rules choose
  std::vector<const Offer*> top;
  for (const Offer& o : offers_)
    if (in_top_level(g, o.node) && o.candidates.size() >= 2) top.push_back(&o);
  const runtime::NodePreparer preparer(g, impl.opsets, impl.limits);
  const ops::TacticScope scope(this);  // each candidate forced in turn (forced_)
  kernels::ThreadPool* pool = impl.threads.get();
  const size_t threads = pool ? pool->threads() : 1;
  std::mt19937 rng(20261207);
  for (size_t k = 0; k < top.size(); ++k) {
    const Offer& o = *top[k];
    const ir::Node& node = *o.node;
    if (progress) progress(k, top.size(), node.name.empty() ? node.op_type : node.name);
    NodeRun nr;
    if (!nr.make(node, opt_infos, rng)) continue;  // not timed: the rule stays
    const int opset = impl.opsets.version(node.domain);
    const std::string key = timing_key(node, opset, nr.info_ptrs, threads);
    engine::TacticRecord rec;
    rec.node = static_cast<uint32_t>(o.node_seq);
    rec.node_name = node.name, rec.op_type = node.op_type;
    rec.rule = o.candidates[o.rule];
    rec.from_cache = true;
    std::optional<std::vector<Tensor>> reference;  // computed when a candidate must be measured
    const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
    auto run_into = [&](std::vector<Tensor>& outs, const ops::PreparedKernel* kernel) {
      ops::KernelContext ctx(node, o.index, opset, nr.input_ptrs, outs, nullptr);
      ctx.set_threads(pool);
      if (kernel) kernel->run(ctx);
      else schema->compute(ctx);
    };
    // Each candidate not timed before is prepared and checked against the reference; the matching ones are then
    // timed in turns (one run of each per round), so a burst of load from elsewhere on the machine falls on all
    // of them alike rather than on whichever ran during it.
    struct Timed {
      size_t candidate;
      std::unique_ptr<ops::PreparedKernel> kernel;
      std::vector<Tensor> outs;
      double best = INFINITY, total = 0;
    };
    std::vector<Timed> timed;
    for (size_t c = 0; c < o.candidates.size(); ++c) {
      engine::TacticCandidate cand;
      cand.name = o.candidates[c];
      // Timed before: read from the cache file, or measured by this build on a node of the same op, attributes
      // and shapes (ResNet's repeated blocks).
      if (auto hit = timings.by_key.find({key, cand.name}); hit != timings.by_key.end()) {
        cand.ms = hit->second.ms, cand.matched = hit->second.matched;
        rec.from_cache = rec.from_cache && hit->second.from_file;
        rec.candidates.push_back(cand);
        continue;
      }
      rec.from_cache = false;
      forced_ = c;
      std::unique_ptr<ops::PreparedKernel> kernel;
      try {
        kernel = preparer.prepare(o.index, o.node_seq);
      } catch (const Error&) {
        kernel = nullptr;
      }
      forced_.reset();
      if (kernel && schema && schema->compute) {
        if (!reference) {
          reference.emplace(nr.fresh_outputs());
          run_into(*reference, nullptr);
        }
        std::vector<Tensor> outs = nr.fresh_outputs();
        run_into(outs, kernel.get());  // also the warm-up run
        cand.matched = true;
        for (size_t i = 0; i < outs.size(); ++i) cand.matched = cand.matched && rel_l2((*reference)[i], outs[i]) <= kTacticBound;
        if (cand.matched) timed.push_back({rec.candidates.size(), std::move(kernel), std::move(outs)});
      }
      rec.candidates.push_back(cand);
    }
    for (int r = 0; r < std::max(1, runs); ++r)
      for (Timed& t : timed) {
        if (r >= 2 && t.total >= kMaxSecondsPerCandidate) continue;
        const auto t0 = std::chrono::steady_clock::now();
        run_into(t.outs, t.kernel.get());
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        t.best = std::min(t.best, sec * 1e3), t.total += sec;
      }
    for (Timed& t : timed) rec.candidates[t.candidate].ms = t.best;
    for (const engine::TacticCandidate& cand : rec.candidates)
      if (timings.by_key.emplace(std::make_pair(key, cand.name), TacticTimings::Timing{cand.ms, cand.matched, false}).second)
        ++timings.added;
    // The fastest candidate that matched; the rule when none did (or none could be timed).
    size_t best = o.rule;
    double best_ms = INFINITY;
    for (size_t c = 0; c < rec.candidates.size(); ++c)
      if (rec.candidates[c].matched && rec.candidates[c].ms >= 0 && rec.candidates[c].ms < best_ms)
        best = c, best_ms = rec.candidates[c].ms;
    rec.chosen = o.candidates[best];
    chosen_[o.node_seq] = best;
    records_.push_back(rec);
    keys_.push_back(key);
  }
  if (progress) progress(top.size(), top.size(), "");
  return records_;
}

bool TacticChooser::any_differs_from_rule() const {
  return std::any_of(records_.begin(), records_.end(), [](const auto& r) { return r.chosen != r.rule; });
}

std::vector<engine::TacticRecord> TacticChooser::back_to_rules() {
  chosen_.clear();  // choose() answers the rule for every node
  for (engine::TacticRecord& r : records_) r.chosen = r.rule;
  return records_;
}

std::string TacticChooser::network_key() const {
  std::string key = "network";
  for (size_t i = 0; i < records_.size(); ++i)
    if (records_[i].chosen != records_[i].rule) key += " || " + keys_[i] + " -> " + records_[i].chosen;
  return key;
}

TacticLoader::TacticLoader(const std::vector<engine::TacticRecord>& records) {
  for (const engine::TacticRecord& r : records) by_node_[r.node] = &r;
}

size_t TacticLoader::choose(const ops::PrepareContext& ctx, std::span<const std::string> candidates, size_t rule) {
  auto it = by_node_.find(static_cast<uint32_t>(ctx.node_seq()));
  if (it == by_node_.end()) return rule;
  const engine::TacticRecord& r = *it->second;
  if (r.node_name == ctx.node().name && r.op_type == ctx.node().op_type) {
    auto c = std::find(candidates.begin(), candidates.end(), r.chosen);
    if (c != candidates.end()) {
      ++applied_;
      return static_cast<size_t>(c - candidates.begin());
    }
  }
  ++not_applied_;  // another kiln offers other candidates, or the record names another node
  return rule;
}

void read_timing_cache(const std::string& path, TacticTimings& timings, const std::function<void(std::string)>& warn) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  try {
    MappedFile file = MappedFile::open(path);
    engine::TimingCache cache = engine::decode_timing_cache(file.bytes());
    const std::string here_isa(kernels::isa_name(kernels::active_isa()));
    const std::string here_cpu = cpu_name(), here_version = engine::kiln_version_string();
    if (cache.kiln_version != here_version || cache.cpu != here_cpu || cache.isa != here_isa) {
      if (warn)
        warn(fmt::format("timing cache '{}' was written by kiln {} on '{}' (ISA tier {}); this is kiln {} on '{}' "
                         "({}): its timings do not apply here, so it is ignored and rewritten", path,
                         cache.kiln_version, cache.cpu, cache.isa, here_version, here_cpu, here_isa));
      return;
    }
    for (const engine::TimingEntry& e : cache.entries) timings.by_key[{e.key, e.tactic}] = {e.ms, e.matched, true};
  } catch (const Error& e) {
    timings.by_key.clear();
    if (warn) warn(fmt::format("timing cache '{}' is ignored and rewritten: {}", path, e.what()));
  }
}

void write_timing_cache(const std::string& path, const TacticTimings& timings,
                        const std::function<void(std::string)>& warn) {
  engine::TimingCache cache;
  cache.kiln_version = engine::kiln_version_string();
  cache.cpu = cpu_name();
  cache.isa = std::string(kernels::isa_name(kernels::active_isa()));
  for (const auto& [k, t] : timings.by_key) cache.entries.push_back({k.first, k.second, t.ms, t.matched});
  const std::vector<uint8_t> bytes = engine::encode_timing_cache(cache);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (out) {
      out.close();
      std::error_code ec;
      std::filesystem::rename(tmp, path, ec);
      if (!ec) return;
    }
  }
  std::error_code ignored;
  std::filesystem::remove(tmp, ignored);
  if (warn) warn(fmt::format("cannot write the timing cache '{}'; the engine is written without it", path));
}

}  // namespace kiln
