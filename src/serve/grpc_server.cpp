#include "grpc_server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>

#include "grpc_convert.h"
#include "grpc_predict_v2.grpc.pb.h"
#include "request_log.h"
#include "serve_error.h"

namespace kiln::serve {

namespace {

grpc::StatusCode code_of(Status status) {
  switch (status) {
    case Status::kBadRequest: return grpc::StatusCode::INVALID_ARGUMENT;
    case Status::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case Status::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    default: return grpc::StatusCode::INTERNAL;
  }
}

// Runs `answer` and turns what it throws into the call's status.
template <typename F>
grpc::Status status_of(F&& answer) {
  try {
    answer();
    return grpc::Status::OK;
  } catch (const ServeError& e) {
    return grpc::Status(code_of(e.status()), e.what());
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL, e.what());
  }
}

// Answers a cheap call at once, on the gRPC thread that received it.
template <typename F>
grpc::ServerUnaryReactor* respond(grpc::CallbackServerContext* context, F&& answer) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status_of(std::forward<F>(answer)));
  return reactor;
}

void fill_tensor_metadata(const std::vector<TensorMetadata>& from,
                          google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* to) {
  for (const TensorMetadata& t : from) {
    auto* m = to->Add();
    m->set_name(t.name);
    m->set_datatype(t.datatype);
    for (int64_t d : t.shape) m->add_shape(d);
  }
}

// kiln serves one repository; of the parameters only unload_dependents is taken (check_repository_parameter).
template <typename Parameters>
void check_repository_request(const std::string& repository_name, const Parameters& parameters) {
  if (!repository_name.empty())
    bad_request(fmt::format("repository '{}': kiln serves one repository; leave repository_name empty",
                            repository_name));
  for (const auto& [key, value] : parameters) check_repository_parameter(key);
}

// The service's methods, each answered on the gRPC thread that receives the call.
class Service final : public inference::GRPCInferenceService::CallbackService {
 public:
  Service(const InferenceService& core, int workers)
      : core_(core), workers_(static_cast<size_t>(std::max(workers, 1))) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* c, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* r) override {
    return respond(c, [&] { r->set_live(core_.live()); });
  }
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* c, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* r) override {
    return respond(c, [&] { r->set_ready(core_.ready()); });
  }
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* c, const inference::ModelReadyRequest* q,
                                       inference::ModelReadyResponse* r) override {
    return respond(c, [&] { r->set_ready(core_.model_ready(q->name(), q->version())); });
  }
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* c, const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* r) override {
    return respond(c, [&] {
      const auto meta = core_.server_metadata();
      r->set_name(meta.name);
      r->set_version(meta.version);
      for (const std::string& e : meta.extensions) r->add_extensions(e);
    });
  }
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* c, const inference::ModelMetadataRequest* q,
                                          inference::ModelMetadataResponse* r) override {
    return respond(c, [&] {
      const auto meta = core_.model_metadata(q->name(), q->version());
      r->set_name(meta.name);
      for (const std::string& v : meta.versions) r->add_versions(v);
      r->set_platform(meta.platform);
      fill_tensor_metadata(meta.inputs, r->mutable_inputs());
      fill_tensor_metadata(meta.outputs, r->mutable_outputs());
    });
  }
  // gRPC's callback threads must not block: the inference runs on a worker and finishes the call from there.
  // Until then the call is in progress, so Shutdown(deadline) waits for it.
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* c, const inference::ModelInferRequest* q,
                                       inference::ModelInferResponse* r) override {
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    const auto received = std::chrono::steady_clock::now();
    core_.request_queued();
    boost::asio::post(workers_, [this, reactor, q, r, received] {
      core_.request_started();
      const grpc::Status status =
          status_of([&] { response_to_proto(core_.infer(request_from_proto(*q)), *r); });
      if (request_logging())
        log_request({"grpc", "ModelInfer", q->model_name(), static_cast<int>(status.error_code()),
                     q->ByteSizeLong(), status.ok() ? r->ByteSizeLong() : 0,
                     static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - received).count())});
      reactor->Finish(status);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* c, const inference::RepositoryIndexRequest* q,
                                            inference::RepositoryIndexResponse* r) override {
    return respond(c, [&] {
      check_repository_request(q->repository_name(), std::map<std::string, int>{});
      for (const RepositoryEntry& e : core_.repository_index(q->ready())) {
        auto* m = r->add_models();
        m->set_name(e.name);
        m->set_version(e.version);
        m->set_state(e.state);
        m->set_reason(e.reason);
      }
    });
  }
  // A load reads and prepares a model (seconds for a large one): on a worker, as an inference.
  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* c,
                                                const inference::RepositoryModelLoadRequest* q,
                                                inference::RepositoryModelLoadResponse*) override {
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    boost::asio::post(workers_, [this, reactor, q] {
      reactor->Finish(status_of([&] {
        check_repository_request(q->repository_name(), q->parameters());
        core_.load_model(q->model_name());
      }));
    });
    return reactor;
  }
  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* c,
                                                  const inference::RepositoryModelUnloadRequest* q,
                                                  inference::RepositoryModelUnloadResponse*) override {
    return respond(c, [&] {
      check_repository_request(q->repository_name(), q->parameters());
      core_.unload_model(q->model_name());
    });
  }

  /// Waits for the inferences handed to workers.
  void join_workers() { workers_.join(); }

 private:
  const InferenceService& core_;
  boost::asio::thread_pool workers_;  // runs the inferences and model loads
};

}  // namespace

struct GrpcServer::Impl {
  Impl(const InferenceService& core, int workers) : service(core, workers) {}
  Service service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

GrpcServer::GrpcServer(const std::string& host, uint16_t port, const InferenceService& service,
                       uint64_t max_message_bytes, int workers)
    : impl_(std::make_unique<Impl>(service, workers)) {
  grpc::ServerBuilder builder;
  // An IPv6 literal needs brackets in a gRPC address.
  const std::string address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                                    : fmt::format("{}:{}", host, port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->service);
  const int limit = static_cast<int>(std::min<uint64_t>(max_message_bytes, std::numeric_limits<int>::max()));
  builder.SetMaxReceiveMessageSize(limit);
  builder.SetMaxSendMessageSize(-1);  // an answer is as large as the model's outputs
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    throw Error(ErrorCode::kIo, fmt::format("cannot listen for gRPC on {} (address in use or not local?)", address));
}

GrpcServer::~GrpcServer() { stop(std::chrono::milliseconds(0)); }

uint16_t GrpcServer::port() const { return static_cast<uint16_t>(impl_->port); }

void GrpcServer::stop(std::chrono::milliseconds deadline) {
  if (!impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() + deadline);
  impl_->server->Wait();
  impl_->service.join_workers();
  impl_->server.reset();
}

}  // namespace kiln::serve
