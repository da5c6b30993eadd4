#include "http_api.h"

#include <fmt/format.h>

#include <rapidjson/document.h>

#include <charconv>
#include <vector>

#include "http_infer_json.h"
#include "json_tensor.h"
#include "serve_error.h"

namespace kiln::serve {

namespace {

std::vector<std::string_view> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> parts;
  while (!target.empty()) {
    const size_t slash = target.find('/');
    if (slash != 0) parts.push_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  return parts;
}

void write_tensor_metadata(JsonWriter& w, const std::vector<TensorMetadata>& tensors) {
  w.StartArray();
  for (const TensorMetadata& t : tensors) {
    w.StartObject();
    write_tensor_description(w, t.name, t.datatype, t.shape);
    w.EndObject();
  }
  w.EndArray();
}

HttpReply json_reply(const rapidjson::StringBuffer& buffer) {
  HttpReply reply;
  reply.body.assign(buffer.GetString(), buffer.GetSize());
  return reply;
}

HttpReply json_reply_of(std::string body) {
  HttpReply reply;
  reply.body = std::move(body);
  return reply;
}

HttpReply server_metadata_reply(const InferenceService& service) {
  const ServerMetadata meta = service.server_metadata();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  write_json_string(w, meta.name);
  w.Key("version");
  write_json_string(w, meta.version);
  w.Key("extensions");
  w.StartArray();
  for (const std::string& e : meta.extensions) write_json_string(w, e);
  w.EndArray();
  w.EndObject();
  return json_reply(buffer);
}

HttpReply model_metadata_reply(const InferenceService& service, std::string_view model, std::string_view version) {
  const ModelMetadata meta = service.model_metadata(model, version);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  write_json_string(w, meta.name);
  w.Key("versions");
  w.StartArray();
  for (const std::string& v : meta.versions) write_json_string(w, v);
  w.EndArray();
  w.Key("platform");
  write_json_string(w, meta.platform);
  w.Key("inputs");
  write_tensor_metadata(w, meta.inputs);
  w.Key("outputs");
  write_tensor_metadata(w, meta.outputs);
  w.EndObject();
  return json_reply(buffer);
}

HttpReply infer_reply(const InferenceService& service, const HttpRequest& request, std::string_view model,
                      std::string_view version) {
  std::optional<size_t> json_length;
  if (request.inference_header_length) {
    const std::string_view text = *request.inference_header_length;
    size_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size())
      bad_request(fmt::format("Inference-Header-Content-Length '{}' is not a byte count", text));
    json_length = n;
  }
  InferRequest infer = parse_infer_request(request.body, json_length);
  infer.model_name = model;
  infer.model_version = version;
  HttpReply reply;
  auto response = std::make_shared<const InferResponse>(service.infer(std::move(infer)));
  reply.inference_header_length = write_infer_response(*response, reply.body, &reply.tail);
  if (!reply.tail.empty()) reply.tail_owner = std::move(response);
  if (reply.inference_header_length) reply.content_type = "application/octet-stream";
  return reply;
}

// The body of a repository request: empty, or a JSON object. `ready` (index) is read; of "parameters", only
// `unload_dependents` is taken (kiln's models have no dependents: either value unloads the one model); what
// else Triton accepts there (a config override, model files) is refused by name rather than ignored.
bool repository_ready_flag(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return false;
  check_json_depth(body);
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) bad_request("a repository request's body must be a JSON object");
  bool ready = false;
  for (const auto& member : doc.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    if (key == "ready" && member.value.IsBool()) {
      ready = member.value.GetBool();
    } else if (key == "parameters" && member.value.IsObject()) {
      for (const auto& p : member.value.GetObject())
        check_repository_parameter(std::string_view(p.name.GetString(), p.name.GetStringLength()));
    } else {
      bad_request(fmt::format("\"{}\" is not supported in a repository request (kiln reads \"ready\" and "
                              "\"parameters\")", key));
    }
  }
  return ready;
}

HttpReply repository_index_reply(const InferenceService& service, std::string_view body) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  for (const RepositoryEntry& e : service.repository_index(repository_ready_flag(body))) {
    w.StartObject();
    for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"name", e.name},
                                     {"version", e.version}, {"state", e.state}, {"reason", e.reason}}) {
      if (value.empty()) continue;  // a reason only when UNAVAILABLE
      w.Key(key);
      write_json_string(w, value);
    }
    w.EndObject();
  }
  w.EndArray();
  return json_reply(buffer);
}

// The status says it (200 or 503), and the body too: {"live": b} / {"ready": b}, the Open Inference Protocol's
// health responses, which KServe's own client reads (is_server_ready fails on an empty body); Triton's
// clients read the status only.
HttpReply health_reply(bool ok, std::string_view what) {
  HttpReply reply = json_reply_of(fmt::format("{{\"{}\":{}}}", what, ok ? "true" : "false"));
  reply.status = ok ? 200 : 503;
  return reply;
}

HttpReply route(const InferenceService& service, const HttpRequest& request) {
  const std::vector<std::string_view> p = split_path(request.target);
  const auto expect = [&](bool get) {
    if (get ? !request.is_get : !request.is_post)
      throw ServeError(Status::kBadRequest, fmt::format("{} answers {} only", request.target, get ? "GET" : "POST"));
  };
  if (p.empty() || p[0] != "v2")
    throw ServeError(Status::kNotFound, fmt::format("no endpoint at '{}' (the protocol's paths start with /v2)",
                                                    request.target));
  if (p.size() == 1) {
    expect(true);
    return server_metadata_reply(service);
  }
  if (p.size() == 3 && p[1] == "health" && (p[2] == "live" || p[2] == "ready")) {
    expect(true);
    const bool ok = p[2] == "live" ? service.live() : service.ready();
    return health_reply(ok, p[2]);
  }
  if (p.size() == 3 && p[1] == "repository" && p[2] == "index") {
    expect(false);
    return repository_index_reply(service, request.body);
  }
  if (p.size() == 5 && p[1] == "repository" && p[2] == "models" && (p[4] == "load" || p[4] == "unload")) {
    expect(false);
    repository_ready_flag(request.body);  // refuses what kiln does not read
    if (p[4] == "load")
      service.load_model(std::string(p[3]));
    else
      service.unload_model(std::string(p[3]));
    return json_reply_of("{}");
  }
  if (p.size() >= 3 && p[1] == "models") {
    const std::string_view model = p[2];
    size_t next = 3;
    std::string_view version;
    if (p.size() >= 5 && p[3] == "versions") {
      version = p[4];
      next = 5;
    }
    if (p.size() == next) {
      expect(true);
      return model_metadata_reply(service, model, version);
    }
    if (p.size() == next + 1 && p[next] == "ready") {
      expect(true);
      service.require_model(model, version);
      return health_reply(service.model_ready(model, version), "ready");
    }
    if (p.size() == next + 1 && p[next] == "infer") {
      expect(false);
      return infer_reply(service, request, model, version);
    }
  }
  throw ServeError(Status::kNotFound, fmt::format("no endpoint at '{}'", request.target));
}

}  // namespace

size_t HttpReply::size() const {
  size_t total = body.size();
  for (std::string_view piece : tail) total += piece.size();
  return total;
}

std::string HttpReply::full_body() const {
  std::string all = body;
  for (std::string_view piece : tail) all += piece;
  return all;
}

HttpReply http_error(int status, std::string_view message) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("error");
  write_json_string(w, message);
  w.EndObject();
  HttpReply reply = json_reply(buffer);
  reply.status = status;
  return reply;
}

HttpReply handle_http(const InferenceService& service, const HttpRequest& request) {
  try {
    return route(service, request);
  } catch (const ServeError& e) {
    return http_error(e.http_status(), e.what());
  } catch (const std::bad_alloc&) {
    return http_error(500, "the server ran out of memory answering this request");
  } catch (const std::exception& e) {
    return http_error(500, e.what());
  }
}

}  // namespace kiln::serve
