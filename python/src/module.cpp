// kiln._kiln: the extension module under the Python package (python/kiln). It binds include/kiln only:
// Session (load, describe, run), the session options that exist in C++, a cancel flag for RunOptions.terminate,
// and ONNX Runtime's exception classes, raised from kiln::Error by its code. The ONNX-Runtime-shaped classes
// (InferenceSession, NodeArg, SessionOptions, ...) are Python, in kiln/session.py.

#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <memory>

#include "convert.h"
#include "errors.h"
#include "kiln/session.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace kiln::python {
namespace {

/// RunOptions.terminate: set from any thread, read by the run between steps.
struct CancelFlag {
  std::shared_ptr<std::atomic<bool>> flag = std::make_shared<std::atomic<bool>>(false);
};

/// ONNX Runtime's type string: "tensor(float)", "seq(tensor(int64))", "optional(tensor(float))".
std::string type_string(const IoInfo& io) {
  std::string tensor = "tensor(" + std::string(dtype_name(io.dtype)) + ")";
  if (io.kind == TensorKind::kSequence) return "seq(" + tensor + ")";
  if (io.kind == TensorKind::kOptional)
    return "optional(" + (io.holds == TensorKind::kSequence ? "seq(" + tensor + ")" : tensor) + ")";
  return tensor;
}

/// ONNX Runtime's shape list: ints for sizes, strings for named dims, None for unknown ones; [] for an unknown
/// rank and for containers.
nb::list shape_list(const IoInfo& io) {
  nb::list dims;
  if (io.kind != TensorKind::kTensor || !io.shape.rank_known) return dims;
  for (const Dim& d : io.shape.dims) {
    if (d.is_known()) dims.append(d.value());
    else if (d.is_symbol()) dims.append(d.symbol_name());
    else dims.append(nb::none());
  }
  return dims;
}

nb::list describe(const std::vector<IoInfo>& ios) {
  nb::list out;
  for (const IoInfo& io : ios) {
    const char* np = io.kind == TensorKind::kTensor ? numpy_dtype_name(io.dtype) : nullptr;
    out.append(nb::make_tuple(io.name, type_string(io), shape_list(io), np ? nb::str(np) : nb::none()));
  }
  return out;
}

nb::dict model_info(const Session& s) {
  const ModelInfo& m = s.model_info();
  nb::dict d;
  d["ir_version"] = m.ir_version;
  d["producer_name"] = m.producer_name;
  d["producer_version"] = m.producer_version;
  d["graph_name"] = m.graph_name;
  d["domain"] = m.domain;
  d["description"] = m.doc_string;
  d["graph_description"] = m.graph_doc_string;
  d["version"] = m.model_version;
  d["has_version"] = m.has_model_version;
  nb::dict meta;
  for (const auto& [k, v] : m.metadata) meta[nb::str(k.data(), k.size())] = v;
  d["custom_metadata_map"] = meta;
  nb::list opsets;
  for (const auto& [domain, version] : m.opsets) opsets.append(nb::make_tuple(domain, version));
  d["opsets"] = opsets;
  return d;
}

template <typename Load> Session load(Load&& load_fn) {
  try {
    nb::gil_scoped_release release;
    return load_fn();
  } catch (const Error& e) {
    throw LoadError(e);
  }
}

/// Runs `s` on `feeds` ((name, value) pairs). Returns the outputs and, when `profile`, one (node, op_type,
/// kernel, depth, milliseconds) tuple per executed step.
nb::tuple run(const Session& s, const std::vector<std::pair<std::string, nb::object>>& feeds,
              const std::vector<std::string>& output_names, const CancelFlag* cancel, bool profile) {
  FeedArrays keep;
  NamedTensors inputs;
  inputs.reserve(feeds.size());
  for (const auto& [name, value] : feeds) inputs.emplace_back(name, tensor_from_python(value, name, keep));
  RunOptions options;
  options.output_names = output_names;
  if (cancel) options.cancel = cancel->flag.get();
  std::vector<StepProfile> steps;
  if (profile) options.profile = [&steps](const StepProfile& p) { steps.push_back(p); };
  NamedTensors outputs;
  {
    nb::gil_scoped_release release;  // kiln never touches Python objects during a run
    outputs = s.run(inputs, options);
  }
  inputs.clear();
  nb::list results;
  for (auto& [name, tensor] : outputs) results.append(tensor_to_python(std::move(tensor)));
  if (!profile) return nb::make_tuple(results, nb::none());
  nb::list prof;
  for (const StepProfile& p : steps)
    prof.append(nb::make_tuple(p.node, p.op_type, p.kernel, p.depth, p.milliseconds));
  return nb::make_tuple(results, prof);
}

/// For tests: the address each feed's tensor would read, converted exactly as run() converts it.
std::vector<std::pair<std::string, uintptr_t>> feed_addresses(
    const std::vector<std::pair<std::string, nb::object>>& feeds) {
  FeedArrays keep;
  std::vector<std::pair<std::string, uintptr_t>> out;
  for (const auto& [name, value] : feeds)
    out.emplace_back(name, reinterpret_cast<uintptr_t>(tensor_from_python(value, name, keep).raw_data()));
  return out;
}

}  // namespace
}  // namespace kiln::python

NB_MODULE(_kiln, m) {
  using namespace kiln;
  using namespace kiln::python;
  m.doc() = "kiln's C++ API (include/kiln) for the kiln package; use kiln.InferenceSession";
  register_errors(m);

  nb::class_<SessionOptions>(m, "NativeSessionOptions")
      .def(nb::init<>())
      .def_rw("intra_op_threads", &SessionOptions::intra_op_threads)
      .def_rw("graph_optimization_level", &SessionOptions::graph_optimization_level)
      .def_rw("disabled_passes", &SessionOptions::disabled_passes)
      .def_rw("strict_symbols", &SessionOptions::strict_symbols)
      .def_rw("max_tensor_bytes", &SessionOptions::max_tensor_bytes)
      .def_rw("max_run_bytes", &SessionOptions::max_run_bytes)
      .def_rw("max_cached_plans", &SessionOptions::max_cached_plans)
      .def("silence_warnings", [](SessionOptions& o) { o.warn = [](const std::string&) {}; },
           "Drops the session's warnings instead of printing them to standard error.");

  nb::class_<CancelFlag>(m, "CancelFlag")
      .def(nb::init<>())
      .def("set", [](CancelFlag& c, bool v) { c.flag->store(v); })
      .def("get", [](const CancelFlag& c) { return c.flag->load(); });

  nb::class_<Session>(m, "Session")
      .def_static("from_file",
                  [](const std::string& path, const SessionOptions& o) {
                    return load([&] { return Session::from_file(path, o); });
                  },
                  "path"_a, "options"_a)
      .def_static("from_bytes",
                  [](nb::bytes bytes, const SessionOptions& o) {
                    std::span<const uint8_t> span(static_cast<const uint8_t*>(bytes.data()), bytes.size());
                    return load([&] { return Session::from_bytes(span, o); });
                  },
                  "data"_a, "options"_a)
      .def("inputs", [](const Session& s) { return describe(s.inputs()); })
      .def("overridable_inputs", [](const Session& s) { return describe(s.overridable_inputs()); })
      .def("outputs", [](const Session& s) { return describe(s.outputs()); })
      .def("outputs_inferred", [](const Session& s) { return describe(s.outputs_inferred()); })
      .def("model_info", &model_info)
      .def("threads", &Session::threads)
      .def("run", &run, "feeds"_a, "output_names"_a, "cancel"_a.none(), "profile"_a);

  m.def("feed_addresses", &feed_addresses, "feeds"_a,
        "For tests: the address of the memory each feed's tensor reads (an array's own when not copied).");
}
