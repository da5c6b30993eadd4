#pragma once
// One client of the load: its own connection (HTTP) or channel (gRPC) to the server, sending the run's request
// and waiting for each answer before the next (closed loop).

#include <cstdint>
#include <memory>
#include <string>

#include "answer_check.h"
#include "load_request.h"

namespace kiln::loadgen {

class InferClient {
 public:
  virtual ~InferClient() = default;
  /// Sends the request once and checks the answer (answer_check.h); throws std::exception saying what failed:
  /// an error status, a broken connection (the next infer() connects again) or a short answer.
  virtual AnswerShape infer() = 0;
};

/// Connects to `host`:`port` (throws when it cannot); each infer() POSTs `body` to /v2/models/`model`/infer.
/// `body` must outlive the client.
std::unique_ptr<InferClient> connect_http(const std::string& host, const std::string& port, const std::string& model,
                                          const HttpInferBody& body);
/// Opens a channel of its own to `host`:`port` (not shared with other clients) and waits until it is connected
/// (throws after 10 s); each infer() sends `request`, which must outlive the client.
std::unique_ptr<InferClient> connect_grpc(const std::string& host, const std::string& port,
                                          const inference::ModelInferRequest& request);

}  // namespace kiln::loadgen
