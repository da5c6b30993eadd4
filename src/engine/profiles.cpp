#include "engine/profiles.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "base/error.h"
#include "engine/byte_io.h"

namespace kiln::engine {

namespace {

std::string dims_or_scalar(const std::vector<int64_t>& dims) { return dims.empty() ? "scalar" : dims_str(dims); }

/// The shape of input `name` in `g`, or null when it is not a required input.
const ir::Value* find_input(const ir::Graph& g, const std::string& name) {
  for (int id : g.required_inputs())
    if (g.value(id).name == name) return &g.value(id);
  return nullptr;
}

bool fully_fixed(const ir::Value& v) { return v.type.shape.rank_known && v.type.shape.is_concrete(); }

/// The `kiln build` flags for `p` with input `name`'s dim `d` widened to hold `size`.
std::string rebuild_flags(const Profile& p, const std::string& name, size_t d, int64_t size) {
  std::string mins, opts, maxs;
  for (const InputRange& r : p.inputs) {
    InputRange w = r;
    if (r.name == name && d < w.min.size()) {
      w.min[d] = std::min(w.min[d], size);
      w.max[d] = std::max(w.max[d], size);
    }
    mins += fmt::format(" --min {}={}", w.name, dims_or_scalar(w.min));
    opts += fmt::format(" --opt {}={}", w.name, dims_or_scalar(w.opt));
    maxs += fmt::format(" --max {}={}", w.name, dims_or_scalar(w.max));
  }
  return mins + opts + maxs;
}

}  // namespace

const InputRange* Profile::find(const std::string& name) const {
  for (const InputRange& r : inputs)
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<uint8_t> encode_profiles(const std::vector<Profile>& profiles) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(profiles.size()));
  for (const Profile& p : profiles) {
    w.u32(static_cast<uint32_t>(p.inputs.size()));
    for (const InputRange& r : p.inputs) {
      w.str(r.name);
      w.u32(static_cast<uint32_t>(r.min.size()));
      for (size_t d = 0; d < r.min.size(); ++d) {
        w.i64(r.min[d]);
        w.i64(r.opt[d]);
        w.i64(r.max[d]);
      }
    }
  }
  return std::move(w.bytes());
}

std::vector<Profile> decode_profiles(std::span<const uint8_t> bytes) {
  ByteReader r(bytes, "the engine's profiles section");
  std::vector<Profile> profiles(r.count("the profile count", kMaxProfiles, 4));
  if (profiles.empty()) fail(ErrorCode::kInvalidModel, "the engine declares no profile; rebuild it with kiln build");
  for (Profile& p : profiles) {
    p.inputs.resize(r.count("the input count of a profile", kMaxProfileInputs, 8));
    std::set<std::string> seen;
    for (InputRange& in : p.inputs) {
      in.name = r.str("an input name");
      if (in.name.empty() || !seen.insert(in.name).second)
        fail(ErrorCode::kInvalidModel, "a profile of the engine names input '{}' {}; rebuild it with kiln build",
             in.name, in.name.empty() ? "(empty)" : "twice");
      uint32_t rank = r.count("an input's rank", kMaxProfileRank, 24);
      for (uint32_t d = 0; d < rank; ++d) {
        int64_t lo = r.i64("a min dim"), opt = r.i64("an opt dim"), hi = r.i64("a max dim");
        if (lo < 0 || lo > opt || opt > hi)
          fail(ErrorCode::kInvalidModel, "the engine's profile for input '{}' dim {} is min {} opt {} max {}, not "
               "0 <= min <= opt <= max; rebuild it with kiln build", in.name, d, lo, opt, hi);
        in.min.push_back(lo);
        in.opt.push_back(opt);
        in.max.push_back(hi);
      }
    }
  }
  if (r.left() != 0)
    fail(ErrorCode::kInvalidModel, "the engine's profiles section has {} bytes after its last profile; rebuild it "
         "with kiln build", r.left());
  return profiles;
}

void check_profiles_fit_model(const ir::Graph& g, const std::vector<Profile>& profiles) {
  if (profiles.empty()) fail(ErrorCode::kInvalidArgument, "an engine needs at least one profile");
  for (size_t pi = 0; pi < profiles.size(); ++pi) {
    const Profile& p = profiles[pi];
    for (const InputRange& r : p.inputs) {
      const ir::Value* v = find_input(g, r.name);
      if (!v) {
        std::string names;
        for (int id : g.required_inputs()) names += (names.empty() ? "'" : ", '") + g.value(id).name + "'";
        fail(ErrorCode::kInvalidArgument, "the profile names '{}', which is not an input of the model (its inputs: {})",
             r.name, names.empty() ? "none" : names);
      }
      const Shape& declared = v->type.shape;
      if (r.min.size() != r.opt.size() || r.min.size() != r.max.size())
        fail(ErrorCode::kInvalidArgument, "input '{}': --min {}, --opt {} and --max {} must have the same number of dims",
             r.name, dims_or_scalar(r.min), dims_or_scalar(r.opt), dims_or_scalar(r.max));
      if (declared.rank_known && declared.rank() != r.min.size())
        fail(ErrorCode::kInvalidArgument, "input '{}' has {} dims in the model ({}); the profile gives {}", r.name,
             declared.rank(), declared.str(), r.min.size());
      for (size_t d = 0; d < r.min.size(); ++d) {
        if (r.min[d] < 0 || r.min[d] > r.opt[d] || r.opt[d] > r.max[d])
          fail(ErrorCode::kInvalidArgument, "input '{}' dim {}: min {}, opt {}, max {} must satisfy 0 <= min <= opt "
               "<= max", r.name, d, r.min[d], r.opt[d], r.max[d]);
        const Dim* fixed = declared.rank_known && declared.dims[d].is_known() ? &declared.dims[d] : nullptr;
        if (fixed && (r.min[d] != fixed->value() || r.max[d] != fixed->value()))
          fail(ErrorCode::kInvalidArgument, "input '{}' dim {} is fixed to {} by the model; the profile gives {}..{} "
               "(re-export with dynamic_axes to make it variable)", r.name, d, fixed->value(), r.min[d], r.max[d]);
      }
    }
    for (int id : g.required_inputs()) {
      const ir::Value& v = g.value(id);
      if (!fully_fixed(v) && !p.find(v.name))
        fail(ErrorCode::kInvalidArgument, "input '{}' has a variable shape {} but profile {} gives it no range: add "
             "--min {}=DIMS --opt {}=DIMS --max {}=DIMS", v.name, v.type.shape.str(), pi, v.name, v.name, v.name);
    }
  }
}

std::vector<FoldedDim> fold_fixed_dims(ir::Graph& g, const std::vector<Profile>& profiles) {
  std::vector<FoldedDim> folded;
  if (profiles.empty()) return folded;
  std::map<std::string, int64_t> symbols;  // symbol -> the size every profile fixes it to
  for (int id : g.required_inputs()) {
    ir::Value& v = g.value(id);
    const InputRange* first = profiles[0].find(v.name);
    if (!first || !v.type.shape.rank_known || v.type.shape.rank() != first->min.size()) continue;
    for (size_t d = 0; d < first->min.size(); ++d) {
      int64_t size = first->min[d];
      bool fixed = true;
      for (const Profile& p : profiles) {
        const InputRange* r = p.find(v.name);
        fixed = fixed && r && r->min.size() == first->min.size() && r->min[d] == size && r->max[d] == size;
      }
      if (!fixed) continue;
      Dim& dim = v.type.shape.dims[d];
      if (dim.is_symbol()) symbols.emplace(dim.symbol_name(), size);
      if (!dim.is_known()) folded.push_back({v.name, static_cast<uint32_t>(d), size});
      dim = Dim(size);
    }
  }
  // A symbol is one size wherever the model uses it, so a size the profiles fix for it holds in every input (as
  // SessionOptions::fixed_input_shapes does).
  for (int id : g.required_inputs()) {
    std::vector<Dim>& dims = g.value(id).type.shape.dims;
    for (size_t d = 0; d < dims.size(); ++d)
      if (dims[d].is_symbol())
        if (auto it = symbols.find(dims[d].symbol_name()); it != symbols.end()) {
          folded.push_back({g.value(id).name, static_cast<uint32_t>(d), it->second});
          dims[d] = Dim(it->second);
        }
  }
  return folded;
}

void check_feeds_in_profiles(const std::vector<Profile>& profiles,
                             const std::vector<std::pair<std::string, std::vector<int64_t>>>& feeds,
                             const std::string& source_model) {
  if (profiles.empty()) return;
  std::string reasons;  // why each profile refused, for the message when none fits
  struct Widen { size_t profile; std::string input; size_t dim; int64_t size; };
  std::optional<Widen> widen;  // the first range that refused, widened in the rebuild flags
  for (size_t pi = 0; pi < profiles.size(); ++pi) {
    std::string reason;
    for (const auto& [name, dims] : feeds) {
      const InputRange* r = profiles[pi].find(name);
      if (!r || !reason.empty()) continue;
      if (dims.size() != r->min.size()) {
        reason = fmt::format("input '{}' has {} dims, the profile {}", name, dims.size(), r->min.size());
        continue;
      }
      for (size_t d = 0; d < dims.size() && reason.empty(); ++d)
        if (dims[d] < r->min[d] || dims[d] > r->max[d]) {
          reason = fmt::format("input '{}' dim {} is {}, outside the range {}..{} the profile allows", name, d,
                               dims[d], r->min[d], r->max[d]);
          if (!widen) widen = Widen{pi, name, d, dims[d]};
        }
    }
    if (reason.empty()) return;
    reasons += profiles.size() == 1 ? reason : fmt::format("{}profile {}: {}", reasons.empty() ? "" : "; ", pi, reason);
  }
  std::string flags;  // every profile, so the rebuilt engine still holds what this one did
  for (size_t pi = 0; pi < profiles.size(); ++pi)
    flags += (pi ? " --profile" : "") + (widen && widen->profile == pi
                                             ? rebuild_flags(profiles[pi], widen->input, widen->dim, widen->size)
                                             : rebuild_flags(profiles[pi], "", 0, 0));
  fail(ErrorCode::kInvalidArgument, "the feeds fit no profile of the engine: {}. Rebuild the engine with a range "
       "that holds this size: kiln build {} -o ENGINE.kiln{}", reasons, source_model.empty() ? "MODEL.onnx" : source_model,
       flags);
}

std::string describe_profile(const Profile& p) {
  std::string text;
  for (const InputRange& r : p.inputs)
    text += fmt::format("{}{} {} .. {} (opt {})", text.empty() ? "" : "\n", r.name, dims_or_scalar(r.min),
                        dims_or_scalar(r.max), dims_or_scalar(r.opt));
  return text;
}

}  // namespace kiln::engine
