#pragma once
// The HTTP/1.1 transport (Boost.Beast over Asio): accepts connections on its own threads, reads each request
// under the limits below, hands it to a handler (http_api.h) and writes the reply; inference requests run on
// worker threads, so a long inference never holds up the sockets. Keep-alive, pipelined
// requests one after another, Expect: 100-continue. Boost stays inside http_server.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http_api.h"

namespace kiln::serve {

struct HttpLimits {
  /// Largest request body; a larger Content-Length is refused (400) from the header alone, before any of the
  /// body is read, and a chunked body is cut off when it passes this.
  uint64_t max_body_bytes = uint64_t{64} << 20;
  /// Largest request header (request line and fields).
  uint32_t max_header_bytes = 64 << 10;
  /// Time a connection may take to send a request's header, including time idle between keep-alive requests.
  std::chrono::milliseconds header_timeout{30'000};
  /// Time a request's body may take to arrive once its header has.
  std::chrono::milliseconds body_timeout{300'000};
};

using HttpHandler = std::function<HttpReply(const HttpRequest&)>;

class HttpServer {
 public:
  /// Binds `host`:`port` (port 0: a free port, see port()) and answers requests with `handler`: POST requests
  /// (inference) on `threads` worker threads, the rest on the threads that read and write the sockets (one up to 4
  /// CPUs, two above). Throws kiln::Error naming the address when it cannot listen there.
  /// `on_queued` and `on_started` (optional) are called when a POST is handed to the workers and when one starts
  /// it (InferenceService::request_queued, request_started).
  HttpServer(const std::string& host, uint16_t port, int threads, HttpLimits limits, HttpHandler handler,
             std::function<void()> on_queued = {}, std::function<void()> on_started = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port listened on.
  uint16_t port() const;
  /// Stops accepting; requests already arriving are answered (with Connection: close) and idle connections
  /// closed; returns when every connection has closed or at `deadline`, then stop()s.
  void drain(std::chrono::steady_clock::time_point deadline);
  /// Stops accepting and answering at once, and joins the threads.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::serve
