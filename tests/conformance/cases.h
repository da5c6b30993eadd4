#pragma once
// The backend test cases on disk and how one is run.

#include <string>
#include <vector>

namespace kiln::conformance {

struct Case {
  std::string id;      ///< "node/test_abs", "light/light_resnet50"
  std::string folder;  ///< "node", "light", ...
  std::string model;   ///< path of the model file
  std::string dir;     ///< the case folder (test_data_set_* inside), or for light the data folder
  bool light = false;  ///< light models: inputs are arange(n)/n, one expected output file beside the model
};

enum class Outcome { kPass, kFail, kRefused };

struct Result {
  Outcome outcome = Outcome::kFail;
  std::string detail;  ///< why it failed or was refused
};

/// Every case under `root/<folder>` for the folders the suite covers, sorted by id.
std::vector<Case> find_cases(const std::vector<std::string>& roots);

/// Runs one case in this process (the caller isolates it in a child process).
Result run_case(const Case& c);

}  // namespace kiln::conformance
