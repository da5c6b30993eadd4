#pragma once
// The inputs of a run, as `kiln run` and `kiln bench` take them: --input NAME=FILE (a .npy or ONNX .pb file;
// sequences and optionals from their ONNX protos), --shape NAME=DIMS for random data, random data (seeded)
// for the rest, so both commands feed a model the same way.

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kiln/session.h"

namespace kiln::cli {

struct Feeds {
  NamedTensors tensors;                        ///< in the order given, then the random ones
  std::map<std::string, std::string> origin;   ///< input name -> the file it came from, or "random"
};

/// Builds the feeds of `session` from --input NAME=FILE and --shape NAME=DIMS arguments: files as given,
/// random data (from `seed`) for every other input (for an engine, at its first profile's opt shape unless
/// --shape says otherwise). Trained parameters (runtime::parameter_inputs) not given
/// with --input stop it with the export_params=False explanation: a model exported without its weights must
/// stop and explain, not run on random weights. Throws Error naming the option to use when an input's size
/// cannot be known or an argument names no input.
Feeds make_feeds(const Session& session, const std::vector<std::string>& input_args,
                 const std::vector<std::string>& shape_args, uint64_t seed);

/// Random data for input `name`: uniform [0,1) floats, integers in [0,10), random bools, the same for the same
/// `rng` state. Throws Error naming --shape and --input when the size is over the tensor limit or the type has no
/// random form.
Tensor random_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& dims, std::mt19937_64& rng);

/// "1x3x224" for a tensor; "sequence of 3", "optional (empty)", "optional 2x3" for containers.
std::string shape_text(const Tensor& t);

}  // namespace kiln::cli
