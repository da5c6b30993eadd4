// The protoc output for grpc_predict_v2.proto (messages and the service's stubs), compiled as one translation
// unit: the generated code is the slowest part of the server to compile, and one compiler run pays it once.
#include "grpc_predict_v2.pb.cc"
#include "grpc_predict_v2.grpc.pb.cc"
