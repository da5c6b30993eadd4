#include "onnx/loader.h"

#include <cstring>

#include "base/error.h"
#include "base/mapped_file.h"
#include "onnx/model_reader.h"

namespace kiln::onnx {

namespace {

// ModelProto field numbers (onnx/onnx.proto).
enum ModelField : uint32_t {
  kIrVersion = 1, kProducerName = 2, kProducerVersion = 3, kDomain = 4, kModelVersion = 5, kDocString = 6,
  kGraph = 7, kOpsetImport = 8, kMetadataProps = 14, kFunctions = 25,
};

ir::Model read_model(std::span<const uint8_t> bytes, ReadContext& ctx) {
  WireReader r(bytes, bytes.data(), "ModelProto");
  ir::Model m;
  std::vector<WireField> functions;
  WireField graph_field;
  bool has_graph = false;
  WireField w;
  while (r.next(w)) {
    switch (w.number) {
      case kIrVersion: m.ir_version = r.as_int64(w); break;
      case kProducerName: m.producer_name = r.as_string(w); break;
      case kProducerVersion: m.producer_version = r.as_string(w); break;
      case kDomain: m.domain = r.as_string(w); break;
      case kModelVersion:
        m.model_version = r.as_int64(w);
        m.has_model_version = true;
        break;
      case kDocString: m.doc_string = r.as_string(w); break;
      case kGraph:
        if (has_graph) r.fail_field(w, "the model holds two graphs");
        r.as_bytes(w);
        graph_field = w;
        has_graph = true;
        break;
      case kOpsetImport: m.opsets.push_back(read_opset_import(r, w)); break;
      case kMetadataProps: {
        WireReader e = r.message(w, "StringStringEntryProto");
        std::pair<std::string, std::string> kv;
        WireField x;
        while (e.next(x)) {
          if (x.number == 1) kv.first = e.as_string(x);
          else if (x.number == 2) kv.second = e.as_string(x);
        }
        m.metadata.push_back(std::move(kv));
        break;
      }
      case kFunctions: functions.push_back(w); break;
      default: break;  // training_info, configuration and fields newer than this reader
    }
  }
  // The version is checked before the graph is read, so a newer file gets this error, not a confusing one.
  if (m.ir_version <= 0)
    fail(ErrorCode::kInvalidModel,
         "IR version {} is not valid; ONNX models carry ir_version >= 1 (is this an ONNX model?)", m.ir_version);
  if (m.ir_version > kMaxIrVersion)
    fail(ErrorCode::kUnsupported,
         "IR version {} is newer than kiln knows (up to {}); re-export with an older onnx or opset", m.ir_version,
         kMaxIrVersion);
  if (!has_graph) fail(ErrorCode::kInvalidModel, "the model has no graph (ModelProto.graph is missing)");
  m.graph = read_graph(r, graph_field, ctx, 0);
  for (const WireField& f : functions) {
    ir::Function fn;
    read_function(r, f, ctx, fn);
    m.functions.push_back(std::move(fn));
  }
  return m;
}

// Names a kind of file that people mistake for an ONNX model, or returns nullptr.
const char* recognise_other_format(std::span<const uint8_t> b) {
  if (b.size() >= 4 && std::memcmp(b.data(), "PK\x03\x04", 4) == 0)
    return "is a zip archive (a PyTorch .pt/.pth checkpoint?), not an ONNX model; export it with torch.onnx.export";
  if (b.size() >= 8 && std::memcmp(b.data(), "\x89HDF\r\n\x1a\n", 8) == 0)
    return "is an HDF5 file (a Keras .h5 model?), not an ONNX model";
  if (b.size() >= 6 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0) return "is a NumPy .npy array, not an ONNX model";
  size_t n = b.size() < 256 ? b.size() : 256;
  bool text = true;
  for (size_t i = 0; i < n && text; ++i) text = (b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' ||
                                                b[i] == '\t';
  if (text)
    return "looks like text, not a binary ONNX model (ONNX text format, JSON or a script?); save it with "
           "onnx.save to get the binary form";
  return nullptr;
}

ir::Model parse_model(std::span<const uint8_t> bytes, ReadContext& ctx) {
  if (bytes.empty()) fail(ErrorCode::kInvalidModel, "not an ONNX model: the file is empty");
  try {
    return read_model(bytes, ctx);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidModel) throw;
    // Heuristics only on failure, so they can never refuse a valid model.
    if (const char* other = recognise_other_format(bytes))
      throw Error(ErrorCode::kInvalidModel, fmt::format("not an ONNX model: the file {}", other));
    // Every ONNX writer puts ir_version (field 1, a varint: tag byte 0x08) first.
    if (bytes[0] != 0x08)
      throw Error(ErrorCode::kInvalidModel,
                  fmt::format("not an ONNX model (it does not start with ir_version, as ONNX files do): {}", e.what()));
    // ModelProto spans the whole file, so a top-level field running past its end means the file was cut short.
    std::string_view what = e.what();
    if (what.rfind("truncated", 0) == 0 && what.find(" of ModelProto") != std::string_view::npos)
      throw Error(ErrorCode::kInvalidModel,
                  fmt::format("the file ends before the model does: it is truncated (an interrupted download, copy "
                              "or save?); {}", what));
    throw;
  }
}

}  // namespace

ir::Model load_model(const std::string& path, const LoadOptions& opts) {
  MappedFile file = MappedFile::open(path);
  size_t slash = path.rfind('/');
  ExternalDataResolver external(slash == std::string::npos ? std::string() : path.substr(0, slash + 1));
  ReadContext ctx;
  ctx.tensors.owner = file.owner();
  ctx.tensors.external = &external;
  ctx.max_nesting = opts.max_nesting;
  try {
    ir::Model m = parse_model(file.bytes(), ctx);
    m.path = path;
    m.keepalive = file.owner();
    return m;
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

ir::Model load_model_from_bytes(std::span<const uint8_t> bytes, const LoadOptions& opts) {
  MappedFile copy = MappedFile::from_bytes(bytes);
  ReadContext ctx;
  ctx.tensors.owner = copy.owner();
  ctx.tensors.no_external_reason =
      "the model was loaded from bytes, so there is no folder to find it in; load it from its file instead";
  ctx.max_nesting = opts.max_nesting;
  ir::Model m = parse_model(copy.bytes(), ctx);
  m.keepalive = copy.owner();
  return m;
}

ir::Model load_model_from_view(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner,
                               const LoadOptions& opts) {
  ReadContext ctx;
  ctx.tensors.owner = owner;
  ctx.tensors.no_external_reason =
      "the model is inside another file (a kiln engine), so there is no folder to find it in";
  ctx.max_nesting = opts.max_nesting;
  ir::Model m = parse_model(bytes, ctx);
  m.keepalive = std::move(owner);
  return m;
}

}  // namespace kiln::onnx
