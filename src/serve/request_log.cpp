#include "request_log.h"

#include <atomic>
#include <chrono>
#include <cstdio>

#include "json_tensor.h"

namespace kiln::serve {

namespace {

std::atomic<bool> logging_on{false};

}  // namespace

void set_request_logging(bool on) { logging_on.store(on, std::memory_order_relaxed); }
bool request_logging() { return logging_on.load(std::memory_order_relaxed); }

void log_request(const RequestRecord& r) {
  if (!request_logging()) return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("time_us");
  w.Uint64(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now).count()));
  w.Key("transport");
  write_json_string(w, r.transport);
  w.Key("method");
  write_json_string(w, r.method);
  w.Key("target");
  write_json_string(w, r.target);
  w.Key("status");
  w.Int(r.status);
  w.Key("bytes_in");
  w.Uint64(r.bytes_in);
  w.Key("bytes_out");
  w.Uint64(r.bytes_out);
  w.Key("duration_us");
  w.Uint64(r.microseconds);
  w.EndObject();
  std::string line(buffer.GetString(), buffer.GetSize());
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace kiln::serve
