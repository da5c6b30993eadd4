#pragma once
// Checks of an inference answer that cost little: the status, each output's data size against the shape the
// answer declares for it, and the outputs against those of the run's first answer. Values are never decoded
// beyond what counting them needs (a JSON answer is parsed; binary and gRPC data only measured).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grpc_predict_v2.pb.h"

namespace kiln::loadgen {

/// What an answer declares: its outputs' names and shapes, in order. Every answer of a run declares the same.
struct AnswerShape {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  bool operator==(const AnswerShape&) const = default;
};

/// Each check throws std::runtime_error saying what is wrong: no outputs, or an output's data shorter or longer
/// than its shape.

/// A JSON answer (each output's "data" array); `body` is parsed in place, so it is left changed.
AnswerShape check_json_answer(std::string& body);
/// A binary-extension answer: the JSON header's first `json_header_length` bytes, each output's
/// binary_data_size (or "data") after it.
AnswerShape check_binary_answer(std::string_view body, size_t json_header_length);
/// A ModelInfer answer: raw_output_contents, one per output, or each output's typed contents.
AnswerShape check_grpc_answer(const inference::ModelInferResponse& answer);

}  // namespace kiln::loadgen
