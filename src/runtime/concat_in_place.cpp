#include "runtime/concat_in_place.h"

#include <cstddef>

#include "base/checked.h"
#include "runtime/memory_planner.h"

namespace kiln::runtime {

namespace {

// The byte offset of each input's slice in the output's first image, when every dim before the axis is 1 but
// the first (its `*images` images), else an empty vector.
std::vector<int64_t> slice_offsets(const ir::Node& node, const std::vector<ops::ValueInfo>& infos, int64_t* images) {
  const ops::ValueInfo& out = infos[static_cast<size_t>(node.outputs[0])];
  const std::vector<int64_t> dims = out.shape.values();
  const ir::Attribute* axis_attr = node.attr("axis");
  if (!axis_attr || dims.empty()) return {};
  const int64_t rank = static_cast<int64_t>(dims.size());
  const int64_t axis = axis_attr->i < 0 ? axis_attr->i + rank : axis_attr->i;
  if (axis < 0 || axis >= rank) return {};
  for (int64_t d = 1; d < axis; ++d)
    if (dims[static_cast<size_t>(d)] != 1) return {};
  *images = axis == 0 ? 1 : dims[0];
  if (*images < 1) return {};
  std::vector<int64_t> offsets;
  int64_t at = 0;
  for (int v : node.inputs) {
    const ops::ValueInfo& in = infos[static_cast<size_t>(v)];
    const int64_t bytes = checked_mul(checked_numel(in.shape.values()), static_cast<int64_t>(dtype_size(in.dtype)));
    if (bytes == 0 || at % static_cast<int64_t>(kArenaAlignment) != 0) return {};
    offsets.push_back(at);
    at += bytes / *images;
  }
  if (*images > 1 && at % static_cast<int64_t>(kArenaAlignment) != 0) return {};  // the next image's first slice
  return offsets;
}

}  // namespace

std::vector<InPlaceConcat> find_in_place_concats(const ir::Graph& graph, const std::vector<Step>& steps,
                                                 const std::vector<ops::ValueInfo>& infos,
                                                 const std::vector<Tensor>& constants, const std::vector<int>& root,
                                                 const std::vector<char>& is_output,
                                                 const std::vector<std::vector<int>>& implicit_inputs) {
  const size_t nv = graph.values.size();
  std::vector<int> readers(nv, 0), producer(nv, -1);
  std::vector<char> claimed(nv, 0);  // an input or output of a Concat already taken
  for (size_t s = 0; s < steps.size(); ++s) {
    const ir::Node& node = graph.nodes[static_cast<size_t>(steps[s].node)];
    for (int v : node.inputs)
      if (v >= 0) ++readers[static_cast<size_t>(v)];
    for (int v : implicit_inputs[s]) ++readers[static_cast<size_t>(v)];
    for (int v : steps[s].outputs)
      if (v >= 0) producer[static_cast<size_t>(v)] = static_cast<int>(s);
  }
  auto arena_value = [&](int v) {
    const auto u = static_cast<size_t>(v);
    const ops::ValueInfo& info = infos[u];
    return !is_output[u] && !constants[u].defined() && root[u] == v && !info.is_container() &&
           info.dtype != DType::kString && info.dtype != DType::kUndefined && info.shape.is_concrete();
  };
  std::vector<InPlaceConcat> found;
  for (size_t s = 0; s < steps.size(); ++s) {
    const Step& step = steps[s];
    const ir::Node& node = graph.nodes[static_cast<size_t>(step.node)];
    if (node.op_type != "Concat" || !node.domain.empty() || !step.shapes_known || step.view_of_input ||
        node.outputs.size() != 1 || node.outputs[0] < 0 || node.inputs.size() < 2 || !arena_value(node.outputs[0]))
      continue;
    bool ok = true;
    for (size_t i = 0; ok && i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v < 0 || !arena_value(v) || readers[static_cast<size_t>(v)] != 1 || claimed[static_cast<size_t>(v)]) {
        ok = false;
        break;
      }
      const int p = producer[static_cast<size_t>(v)];
      ok = p >= 0 && steps[static_cast<size_t>(p)].shapes_known && !steps[static_cast<size_t>(p)].view_of_input &&
           infos[static_cast<size_t>(v)].dtype == infos[static_cast<size_t>(node.outputs[0])].dtype;
    }
    if (!ok) continue;
    int64_t images = 1;
    std::vector<int64_t> offsets = slice_offsets(node, infos, &images);
    if (offsets.empty()) continue;
    if (images > 1) {  // each input's producer must write its images an output image apart
      for (int v : node.inputs) {
        const Step& p = steps[static_cast<size_t>(producer[static_cast<size_t>(v)])];
        ok = ok && p.prepared && p.prepared->writes_strided_images() && p.outputs[0] == v;
      }
      if (!ok) continue;
    }
    for (int v : node.inputs) claimed[static_cast<size_t>(v)] = 1;
    claimed[static_cast<size_t>(node.outputs[0])] = 1;
    const int64_t image_bytes =
        images > 1 ? checked_numel(infos[static_cast<size_t>(node.outputs[0])].shape.values()) /
                         images * static_cast<int64_t>(dtype_size(infos[static_cast<size_t>(node.outputs[0])].dtype))
                   : 0;
    found.push_back({static_cast<int>(s), node.outputs[0], node.inputs, std::move(offsets), image_bytes});
  }
  return found;
}

}  // namespace kiln::runtime
