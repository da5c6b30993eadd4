#include "http_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <atomic>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"
#include "kiln/error.h"
#include "request_log.h"

namespace kiln::serve {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Shared {
  HttpLimits limits;
  HttpHandler handler;
  std::function<void()> on_queued, on_started;  // may be empty
  net::thread_pool* workers = nullptr;  // runs the POST handlers (inference)
  std::atomic<bool> draining{false};  // stop(): answer what has arrived, then close
  std::atomic<int> open_connections{0};
};

// A connection's strand, as a concrete type: Beast's tcp_stream type-erases its executor (any_io_executor), and a
// strand does not fit that type's inline storage, so every operation's executor copies and work guards went to
// the heap: about 400 allocations per binary HTTP inference request, 2026-12-07.
using Strand = net::strand<net::io_context::executor_type>;
using Socket = net::basic_stream_socket<tcp, Strand>;
using Stream = beast::basic_stream<tcp, Strand>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, Strand>;

// The most a connection's read buffer grows to for a request body (Beast reads up to its free capacity per call).
constexpr uint64_t kReadChunk = 64 << 10;

// What a connection idle at shutdown gets to start sending a request.
constexpr std::chrono::milliseconds kDrainGrace{1000};

std::string_view view_of(beast::string_view s) { return {s.data(), s.size()}; }

// One client connection: reads a request's header, then its body, answers, and repeats while the client keeps
// the connection alive. Every step runs on the connection's strand, so a connection is never touched by two
// threads at once; the shared_ptr each pending operation holds keeps it alive.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Socket socket, Shared& shared)
      : stream_(std::move(socket)), grace_(stream_.get_executor()), shared_(shared) {
    shared_.open_connections.fetch_add(1);
  }
  ~Connection() { shared_.open_connections.fetch_sub(1); }

  void read_header() {
    if (shared_.draining) return close();
    waiting_for_header_ = true;
    header_.emplace();
    header_->header_limit(shared_.limits.max_header_bytes);
    // The size limit is applied to Content-Length below, with a message of ours; the body parser enforces it.
    header_->body_limit(std::numeric_limits<uint64_t>::max());
    stream_.expires_after(shared_.limits.header_timeout);
    http::async_read_header(stream_, buffer_, *header_,
                            beast::bind_front_handler(&Connection::on_header, shared_from_this()));
  }

  Strand executor() { return stream_.get_executor(); }

  // While draining: a connection waiting for a request is closed unless one starts arriving within a grace
  // period (a client may have connected just before the signal and be about to send).
  void close_when_idle() {
    grace_.expires_after(kDrainGrace);
    grace_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->waiting_for_header_ && self->buffer_.size() == 0) self->stream_.cancel();
    });
  }

 private:
  void on_header(beast::error_code ec, size_t) {
    waiting_for_header_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted)
      return close();  // the client left or went quiet between requests: nothing to answer
    if (ec) return refuse(fmt::format("malformed HTTP request header: {}", ec.message()));
    const auto& head = header_->get();
    if (request_logging()) {
      logged_method_ = view_of(head.method_string());
      logged_target_ = view_of(head.target());
    }
    if (auto length = header_->content_length(); length && *length > shared_.limits.max_body_bytes)
      return refuse(fmt::format("the request body of {} bytes is larger than the server's limit of {} bytes "
                                "(kiln serve --max-request-bytes)", *length, shared_.limits.max_body_bytes));
    // Beast reads at most the buffer's free capacity (at least 512 bytes) per call: a 16 KB body into a fresh
    // buffer took 34 recvmsg and 37 epoll_wait calls. Room for the body (up to 64 KiB at a time) makes it one
    // or two; the buffer keeps it for the connection's next requests.
    if (auto length = header_->content_length(); length && *length > 0) {
      const size_t wanted = buffer_.size() + static_cast<size_t>(std::min<uint64_t>(*length, kReadChunk));
      if (buffer_.capacity() < wanted) buffer_.reserve(wanted);
    }
    const bool wants_continue = beast::iequals(head[http::field::expect], "100-continue");
    body_.emplace(std::move(*header_));
    body_->body_limit(shared_.limits.max_body_bytes);
    stream_.expires_after(shared_.limits.body_timeout);
    if (!wants_continue) return read_body();
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code wec, size_t) {
                       if (wec) return self->close();
                       self->read_body();
                     });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *body_, beast::bind_front_handler(&Connection::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit)
      return refuse(fmt::format("the request body is larger than the server's limit of {} bytes (kiln serve "
                                "--max-request-bytes)", shared_.limits.max_body_bytes));
    if (ec == http::error::partial_message || ec == http::error::end_of_stream || ec == net::error::eof) {
      const auto announced = body_->content_length();
      return refuse(fmt::format("the request body ended after {} bytes{}", body_->get().body().size(),
                                announced ? fmt::format(" of the {} its Content-Length announced", *announced) : ""));
    }
    if (ec == beast::error::timeout) return refuse("the request body did not arrive in time");
    if (ec) return refuse(fmt::format("malformed HTTP request: {}", ec.message()));
    const auto& req = body_->get();
    received_ = std::chrono::steady_clock::now();
    HttpRequest request;
    request.is_get = req.method() == http::verb::get;
    request.is_post = req.method() == http::verb::post;
    request.target = view_of(req.target());
    request.body = req.body();
    if (auto it = req.find("Inference-Header-Content-Length"); it != req.end())
      request.inference_header_length = view_of(it->value());
    const bool keep_alive = req.keep_alive();
    if (!request.is_post) return send(shared_.handler(request), keep_alive && !shared_.draining);
    // An inference runs on a worker, never on an I/O thread: health checks and other connections stay answered
    // however long models take. The request stays valid meanwhile: nothing reads this connection until the
    // reply is written.
    if (shared_.on_queued) shared_.on_queued();
    net::post(*shared_.workers, [self = shared_from_this(), request, keep_alive] {
      if (self->shared_.on_started) self->shared_.on_started();
      HttpReply reply = self->shared_.handler(request);
      net::post(self->executor(), [self, reply = std::move(reply), keep_alive]() mutable {
        self->send(std::move(reply), keep_alive && !self->shared_.draining);
      });
    });
  }

  // Writes the reply in one gathered write (sendmsg with an iovec per piece): the head written here, then the
  // reply's body and its tail pieces where they lie (binary outputs straight from their tensors).
  void send(HttpReply reply, bool keep_alive) {
    const size_t body_size = reply.size();
    if (request_logging()) {
      const bool read = body_.has_value();
      log_request({"http", logged_method_, logged_target_, reply.status, read ? body_->get().body().size() : 0,
                   body_size,
                   read ? static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - received_).count())
                        : 0});
    }
    reply_ = std::move(reply);
    head_.clear();
    const auto reason = http::obsolete_reason(static_cast<http::status>(reply_.status));
    fmt::format_to(std::back_inserter(head_), "HTTP/1.1 {} {}\r\nServer: kiln\r\n", reply_.status,
                   view_of(reason));
    if (!reply_.content_type.empty()) fmt::format_to(std::back_inserter(head_), "Content-Type: {}\r\n", reply_.content_type);
    if (reply_.inference_header_length)
      fmt::format_to(std::back_inserter(head_), "Inference-Header-Content-Length: {}\r\n",
                     *reply_.inference_header_length);
    fmt::format_to(std::back_inserter(head_), "Content-Length: {}\r\n{}\r\n", body_size,
                   keep_alive ? "" : "Connection: close\r\n");
    pieces_.clear();
    pieces_.push_back(net::buffer(head_));
    if (!reply_.body.empty()) pieces_.push_back(net::buffer(reply_.body));
    for (std::string_view piece : reply_.tail)
      if (!piece.empty()) pieces_.push_back(net::buffer(piece.data(), piece.size()));
    stream_.expires_after(shared_.limits.body_timeout);
    net::async_write(stream_, pieces_, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      // The tensors go as soon as they are sent; the strings keep their memory for the next reply.
      self->reply_.tail.clear();
      self->reply_.tail_owner.reset();
      if (ec) return self->close();
      if (keep_alive) return self->read_header();
      self->linger();
    });
  }

  // Answers 400 and closes: after a refusal the rest of the stream cannot be trusted to start a request.
  void refuse(const std::string& message) { send(http_error(400, message), false); }

  // Closes after a reply while the client may still be sending (an oversize body): the write side is shut and
  // what arrives is read and dropped for a moment, so the client sees the reply rather than a reset.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    drain_.resize(64 << 10);
    stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (uint64_t{16} << 20)) return self->close();
      self->linger_more();
    });
  }
  void linger_more() {
    stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (uint64_t{16} << 20)) return self->close();
      self->linger_more();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  Stream stream_;
  Timer grace_;
  Shared& shared_;
  bool waiting_for_header_ = false;
  std::chrono::steady_clock::time_point received_;  // the request's body read: where its duration starts
  std::string logged_method_, logged_target_;        // kept only while request logging is on
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_;
  std::optional<http::request_parser<http::string_body>> body_;
  std::vector<char> drain_;
  uint64_t drained_ = 0;
  HttpReply reply_;                       // the reply being written
  std::string head_;                      // its status line and fields
  std::vector<net::const_buffer> pieces_;  // head, body and tail, as one write gathers them
};

}  // namespace

// Threads reading and writing sockets: the work there is small (about 0.2 ms of CPU per binary inference request
// of 16 KB in, 148 KB out), and inference runs on the workers. One up to 4 CPUs: a second I/O thread only
// wakes more often, preempting the workers (super_resolution, 16 clients, 2 CPUs: 2.1 instead of 5.4 sleeps
// per request, I/O CPU 0.21 instead of 0.25 ms, the workers preempted 1.0 instead of 1.7 times per request;
// 631 and 680 per s against 632 and 659 with two, 2026-12-07). Two above that.
int io_threads() { return kernels::usable_cpus() <= 4 ? 1 : 2; }

struct HttpServer::Impl {
  explicit Impl(int worker_threads) : workers(static_cast<size_t>(std::max(worker_threads, 1))) {}
  Shared shared;
  net::thread_pool workers;
  net::io_context io;
  // Keeps the I/O threads running while every request is on a worker: without it, io.run() returns as soon as
  // no socket operation is pending (all connections busy in inference, the acceptor closed by drain()), and the
  // replies the workers then post would never be written.
  net::executor_work_guard<net::io_context::executor_type> io_work{io.get_executor()};
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;

  std::mutex connections_mutex;
  std::vector<std::weak_ptr<Connection>> connections;  // for drain(): the ones to close when idle

  void accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, Socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        // A reply is handed to the socket whole, in one gathered write: Nagle's algorithm could only hold back
        // the last segment of one that goes out in parts (the client's delayed ACK: 40 ms).
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto connection = std::make_shared<Connection>(std::move(socket), shared);
        {
          std::lock_guard lock(connections_mutex);
          std::erase_if(connections, [](const auto& c) { return c.expired(); });
          connections.push_back(connection);
        }
        connection->read_header();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(const std::string& host, uint16_t port, int threads, HttpLimits limits, HttpHandler handler,
                       std::function<void()> on_queued, std::function<void()> on_started)
    : impl_(std::make_unique<Impl>(threads)) {
  impl_->shared.workers = &impl_->workers;
  impl_->shared.on_queued = std::move(on_queued);
  impl_->shared.on_started = std::move(on_started);
  impl_->shared.limits = limits;
  impl_->shared.handler = std::move(handler);
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) throw Error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not an IP address to listen on", host));
  const tcp::endpoint endpoint(address, port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw Error(ErrorCode::kIo, fmt::format("cannot listen for HTTP on {}:{}: {}", host, port, ec.message()));
  impl_->accept();
  for (int i = 0, n = io_threads(); i < n; ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::drain(std::chrono::steady_clock::time_point deadline) {
  if (impl_->threads.empty()) return;
  impl_->shared.draining = true;
  net::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  {
    std::lock_guard lock(impl_->connections_mutex);
    for (const auto& weak : impl_->connections)
      if (auto c = weak.lock()) net::post(c->executor(), [c] { c->close_when_idle(); });
  }
  while (impl_->shared.open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop();
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::stop() {
  if (impl_->threads.empty()) return;
  net::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io_work.reset();
  impl_->io.stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->workers.stop();
  impl_->workers.join();
}

}  // namespace kiln::serve
