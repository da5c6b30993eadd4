#pragma once
// The in-memory model: a Graph of Nodes reading and writing Values, with symbolic shapes.
// Values are referred to by index into Graph::values; -1 marks an absent optional input or output.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/shape.h"
#include "kiln/tensor.h"

namespace kiln::ir {

struct Graph;
struct ValueType;

/// AttributeProto.AttributeType numbers.
enum class AttrType : int32_t {
  kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5, kFloats = 6, kInts = 7,
  kStrings = 8, kTensors = 9, kGraphs = 10, kSparseTensor = 11, kSparseTensors = 12, kTypeProto = 13,
  kTypeProtos = 14,
};
const char* attr_type_name(AttrType t);

struct Attribute {
  std::string name;
  AttrType type = AttrType::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;  // bytes; may hold non-UTF-8 data
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  std::shared_ptr<ValueType> tp;                        // TYPE_PROTO (e.g. Optional's `type`)
  std::vector<std::shared_ptr<ValueType>> type_protos;  // TYPE_PROTOS
  std::string ref_attr_name;  // inside a function body: refers to the caller's attribute
  std::string doc_string;
};

/// What kind of value flows along an edge, as the file declares it (ONNX's TypeProto kinds). kiln runs
/// tensors, sequences of tensors and optionals of either; maps, sparse-typed values and opaque types are named
/// so that they can be refused clearly.
enum class ValueKind { kTensor, kSequence, kOptional, kMap, kSparseTensor, kUnknown };

/// A value's declared or inferred type. `has_type` is false when nothing is known.
struct ValueType {
  ValueKind kind = ValueKind::kTensor;
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
  bool has_type = false;
  /// Element type for sequence/optional kinds (tensor element type inside). For maps, `dtype` is the key
  /// type and `elem` the value type.
  std::shared_ptr<ValueType> elem;
};

/// A declared type in the form kiln runs it (kiln::Tensor's kinds): the container kind, and the element type
/// and shape of the tensors inside. `runnable` is false for types kiln has no value for (maps, sparse tensors,
/// opaque types, sequences of sequences, ...); `what` then names the type.
struct FlatType {
  TensorKind kind = TensorKind::kTensor;
  TensorKind holds = TensorKind::kTensor;  ///< optionals: what they hold
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
  bool runnable = true;
  std::string what;  ///< "map", "sparse tensor", "sequence of sequence", ... when not runnable
};
FlatType flatten_type(const ValueType& t);
/// "tensor(float)[batch,3]", "sequence(float)[?]", "optional(sequence(int64))[2]".
std::string type_str(const FlatType& t);

struct Value {
  std::string name;
  ValueType type;
  std::string doc_string;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for the default ai.onnx domain
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<Attribute> attributes;
  std::string doc_string;

  /// The attribute called `name`, or nullptr.
  const Attribute* attr(std::string_view name) const;
  /// "node 'conv1' (Conv)" or "node #12 (Conv)" when unnamed; used in every error about a node.
  std::string label(size_t index) const;
  /// "Conv", or "<domain>.<op>" outside ai.onnx ("ai.kiln.FusedConv"): how counts and profiles name an op.
  std::string qualified_op() const;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;   ///< graph inputs (may include values that also have initializers)
  std::vector<int> outputs;  ///< graph outputs
  std::unordered_map<int, Tensor> initializers;  ///< constant data by value index
  std::vector<int> outer_refs;  ///< values read from an enclosing graph (by name), for subgraphs
  std::vector<int> value_infos; ///< values with a ValueInfoProto inside the graph (intermediate types)
  std::string doc_string;

  /// Index of the value called `name`, or -1.
  int find(std::string_view name) const;
  /// Index of the value called `name`, creating it when new.
  int intern(const std::string& name);
  const Value& value(int id) const { return values.at(static_cast<size_t>(id)); }
  Value& value(int id) { return values.at(static_cast<size_t>(id)); }
  bool is_initializer(int id) const { return initializers.count(id) != 0; }
  /// Graph inputs that have no initializer: what a caller must feed.
  std::vector<int> required_inputs() const;

 private:
  std::unordered_map<std::string, int> index_;
};

struct OpsetImport {
  std::string domain;  // "" or "ai.onnx" for the default domain
  int64_t version = 0;
};

/// A local function (FunctionProto). Kept so it can be inlined or refused.
struct Function {
  std::string name, domain;
  std::vector<std::string> inputs, outputs, attributes;
  std::vector<Attribute> attribute_defaults;  ///< FunctionProto.attribute_proto: attributes with a default value
  std::vector<OpsetImport> opsets;
  std::shared_ptr<Graph> body;  // nodes only; inputs/outputs by name
};

struct Model {
  int64_t ir_version = 0;
  std::vector<OpsetImport> opsets;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  bool has_model_version = false;  ///< the file sets model_version (0 included)
  std::vector<std::pair<std::string, std::string>> metadata;
  std::shared_ptr<Graph> graph;
  std::vector<Function> functions;
  std::string path;  ///< file the model came from; empty when loaded from bytes
  std::shared_ptr<const void> keepalive;  ///< the mapped file that initializer views point into

  /// Opset version imported for `domain` ("" and "ai.onnx" are the same), or 0 when not imported.
  int64_t opset(std::string_view domain) const;
};

/// Checks structure: every input is defined before use (graph input, initializer, outer value or node
/// output), no value is produced twice, graph outputs exist, no cycles. Recurses into subgraphs.
/// Throws Error(kInvalidModel) naming the node and value.
void validate(const Graph& g, int max_depth = 32);

/// Names that nodes of `g`'s subgraphs (recursively) read from scopes outside `g` itself.
void collect_outer_names(const Graph& g, std::vector<std::string>& names);
/// Names the subgraphs of `node` read from the scope `node` is in (or further out).
std::vector<std::string> node_outer_names(const Node& node);

/// Node indices in an order where every node comes after the producers of its inputs (stable: keeps the
/// file's order where it is already valid). Throws Error(kInvalidModel) naming a node on a cycle.
std::vector<int> topological_order(const Graph& g);

}  // namespace kiln::ir
