#pragma once
// The one error type kiln throws across its public API.

#include <stdexcept>
#include <string>

namespace kiln {

/// What kind of failure an Error reports; stable for programs that branch on it.
enum class ErrorCode {
  kInvalidArgument,  ///< a caller-supplied value (feed, option, shape) is wrong
  kInvalidModel,     ///< the model file is malformed or inconsistent
  kUnsupported,      ///< valid ONNX that kiln cannot run (op, version, type)
  kIo,               ///< a file could not be opened, read or written
  kLimitExceeded,    ///< a memory, size, nesting or time limit was hit
  kCancelled,        ///< the run was cancelled or passed its deadline
  kInternal,         ///< a bug in kiln
};

/// Returns a short lower-case name for a code ("invalid model", ...).
const char* error_code_name(ErrorCode code);

/// The exception kiln throws: a code and a message that names what was wrong and how to fix it.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  /// The kind of failure.
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace kiln
