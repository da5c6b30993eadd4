// The HTTP/1.1 client: Boost.Beast, blocking, one keep-alive connection per client thread.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "infer_client.h"

namespace kiln::loadgen {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpClient final : public InferClient {
 public:
  HttpClient(const std::string& host, const std::string& port, const std::string& model, const HttpInferBody& body)
      : host_(host), port_(port), binary_(body.json_header_length.has_value()), socket_(io_) {
    // Built once: every infer() writes this same message.
    request_.method(http::verb::post);
    request_.target(fmt::format("/v2/models/{}/infer", model));
    request_.version(11);
    request_.set(http::field::host, host + ":" + port);
    request_.set(http::field::content_type, body.content_type);
    if (binary_) request_.set("Inference-Header-Content-Length", std::to_string(*body.json_header_length));
    request_.body() = body.body;
    request_.prepare_payload();
    connect();
  }

  AnswerShape infer() override {
    if (!socket_.is_open()) connect();
    http::response_parser<http::string_body> parser;
    // The answer's size is the server's to choose; the check measures it. (A limit, not boost::none: Boost 1.74
    // compares a Content-Length with an empty limit as if the limit were below it.)
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    try {
      http::write(socket_, request_);
      http::read(socket_, buffer_, parser);
    } catch (const std::exception&) {
      close();  // the request is lost (counted failed); the next one starts on a new connection
      throw;
    }
    http::response<http::string_body> answer = parser.release();
    if (!answer.keep_alive()) close();
    if (answer.result() != http::status::ok)
      throw std::runtime_error(fmt::format("HTTP {}: {}", answer.result_int(), answer.body().substr(0, 300)));
    if (!binary_) return check_json_answer(answer.body());
    auto length = answer.find("Inference-Header-Content-Length");
    if (length == answer.end()) throw std::runtime_error("the answer has no Inference-Header-Content-Length");
    return check_binary_answer(answer.body(), std::stoul(std::string(length->value())));
  }

 private:
  void connect() {
    buffer_.clear();
    // Beast reads at most the buffer's free capacity per call (at least 512 bytes): a 148 KB answer took 289
    // recv calls from a fresh buffer. 64 KiB of room: a few.
    buffer_.reserve(64 << 10);
    tcp::resolver resolver(io_);
    net::connect(socket_, resolver.resolve(host_, port_));
    // The request goes out in one write, but the answer must not wait on Nagle's algorithm either way.
    socket_.set_option(tcp::no_delay(true));
  }

  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  std::string host_, port_;
  bool binary_;
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
};

}  // namespace

std::unique_ptr<InferClient> connect_http(const std::string& host, const std::string& port, const std::string& model,
                                          const HttpInferBody& body) {
  return std::make_unique<HttpClient>(host, port, model, body);
}

}  // namespace kiln::loadgen
