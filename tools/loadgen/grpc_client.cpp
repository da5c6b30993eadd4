// The gRPC client: the synchronous stub of src/serve's generated code, one channel per client thread.

#include <grpcpp/grpcpp.h>
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

#include "grpc_predict_v2.grpc.pb.h"
#include "infer_client.h"

namespace kiln::loadgen {

namespace {

class GrpcClient final : public InferClient {
 public:
  GrpcClient(const std::string& host, const std::string& port, const inference::ModelInferRequest& request)
      : request_(request) {
    grpc::ChannelArguments args;
    // Channels to one address share their connection unless told otherwise; each client is to have its own.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // No size limit of the client's own (as tritonclient): the server's answer size is what is measured.
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(host + ":" + port, grpc::InsecureChannelCredentials(), args);
    if (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
      throw std::runtime_error(fmt::format("cannot connect to {}:{} (gRPC)", host, port));
    stub_ = inference::GRPCInferenceService::NewStub(channel_);
  }

  AnswerShape infer() override {
    grpc::ClientContext context;
    answer_.Clear();  // keeps its buffers: the next answer of the same size allocates nothing new
    const grpc::Status status = stub_->ModelInfer(&context, request_, &answer_);
    if (!status.ok())
      throw std::runtime_error(fmt::format("gRPC status {}: {}", static_cast<int>(status.error_code()),
                                           status.error_message().substr(0, 300)));
    return check_grpc_answer(answer_);
  }

 private:
  const inference::ModelInferRequest& request_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  inference::ModelInferResponse answer_;
};

}  // namespace

std::unique_ptr<InferClient> connect_grpc(const std::string& host, const std::string& port,
                                          const inference::ModelInferRequest& request) {
  return std::make_unique<GrpcClient>(host, port, request);
}

}  // namespace kiln::loadgen
