#pragma once
// The fuzzed path, shared by the libFuzzer harness and the regression unit test: bytes -> ONNX reader ->
// graph building -> validation -> op checks -> shape inference and planning at small sizes -> a tiny run.
// Every outcome must be a result or a kiln::Error; a crash, sanitizer report, other exception or hang is a bug.
// Engine files (.kiln, seeds engine_*.kiln) go the same way through Session::from_bytes; since a mutation
// almost never keeps the checksums right, their sections are also read with the checksums not verified
// (fuzz_engine_sections), so the fuzzer reaches the section readers and the model section's ONNX reader.
// Timing cache files (kiln build --timing-cache, magic KILNTCH) go through their reader, checksum included and not.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>

#include "api/engine_load.h"
#include "api/engine_packed.h"
#include "engine/engine_file.h"
#include "engine/tactics.h"
#include "kiln/session.h"
#include "onnx/loader.h"

namespace kiln::fuzz {

/// Every section reader over an engine whose checksums are not checked.
inline void fuzz_engine_sections(std::span<const uint8_t> bytes) {
  try {
    engine::EngineView view = engine::read_engine(bytes, /*verify_checksums=*/false);
    read_engine_facts(view);
    ir::Model model = onnx::load_model_from_bytes(view.section(engine::SectionKind::kModel));
    if (auto packed = packed_loader_of(view, nullptr); packed && model.graph) packed->attach_raw_weights(*model.graph);
  } catch (const Error&) {
  }
}

/// The timing cache reader (a refusal is a kiln::Error, which kiln build turns into a warning).
inline void fuzz_timing_cache(std::span<const uint8_t> bytes) {
  for (bool verify : {true, false}) {
    try {
      engine::decode_timing_cache(bytes, verify);
    } catch (const Error&) {
    }
  }
}

inline void fuzz_one(const uint8_t* data, size_t size) {
  if (size >= sizeof(engine::kTimingCacheMagic) &&
      std::memcmp(data, engine::kTimingCacheMagic, sizeof(engine::kTimingCacheMagic)) == 0)
    return fuzz_timing_cache({data, size});
  if (engine::is_engine(std::span<const uint8_t>(data, size))) fuzz_engine_sections({data, size});
  SessionOptions options;  // small limits keep every run fast
  options.max_tensor_bytes = int64_t{4} << 20;
  options.max_run_bytes = int64_t{32} << 20;
  options.max_subgraph_runs = 1000;
  // Work, not only memory: the reference kernels under the sanitizers do ~5 million multiply-adds a second
  // (a 38-million ConvTranspose took 7 s), so this keeps every input to about a second of kernel time, well
  // inside libFuzzer's timeout even on a loaded machine, counted, not timed: the same verdict anywhere.
  options.max_run_macs = int64_t{4} << 20;
  options.intra_op_threads = 1;  // a pool per input would cost more than the run
  try {
    Session s = Session::from_bytes(std::span<const uint8_t>(data, size), options);
    NamedTensors feeds;
    int64_t elements = 0;
    for (const IoInfo& in : s.inputs()) {
      std::vector<int64_t> dims;
      if (in.shape.rank_known)
        for (const Dim& d : in.shape.dims) dims.push_back(d.is_known() ? d.value() : 2);
      DType t = dtype_is_supported(in.dtype) ? in.dtype : DType::kFloat32;
      int64_t n = 1;
      for (int64_t d : dims) {
        if (d < 0 || d > (1 << 16)) return;
        n *= d;
        if (n > (1 << 16)) return;
      }
      Tensor zeros(t, dims);
      elements += zeros.numel();
      // Containers get one tensor of zeros: a sequence of it, or an optional holding it (or that sequence).
      if (in.kind == TensorKind::kSequence || in.holds == TensorKind::kSequence)
        zeros = Tensor::make_sequence(t, {zeros});
      if (in.kind == TensorKind::kOptional) zeros = Tensor::make_optional(zeros);
      feeds.emplace_back(in.name, std::move(zeros));
    }
    if (elements > (1 << 16)) return;
    RunOptions run;
    run.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    s.run(feeds, run);
  } catch (const Error&) {
    // A clear refusal is a correct outcome.
  }
}

}  // namespace kiln::fuzz
