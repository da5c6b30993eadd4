#!/usr/bin/env python3
"""Lists, for each elementwise op kiln implements in src/ops/, the ONNX backend node tests that use it.

Run with the project venv: .venv/bin/python scripts/elementwise_node_tests.py [NODE_DIR] [--all]
NODE_DIR defaults to the wheel's onnx/backend/test/data/node; when the wheel lacks it, make it with
tests/conformance/prepare_data.py (writes OUT/node). Only onnx's own test models are read; kiln itself is not involved.
"""
import os
import sys
from collections import defaultdict

import onnx

OPS = """Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Erf Exp Floor IsInf IsNaN Log Neg Not Reciprocal
Round Sign Sin Sinh Sqrt Tan Tanh Relu LeakyRelu Elu Selu Celu Sigmoid HardSigmoid HardSwish Softplus Softsign
Mish Gelu ThresholdedRelu Shrink PRelu Clip Identity Dropout Cast CastLike Add Sub Mul Div Mod Pow Min Max Sum
Mean Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Where BitShift BitwiseAnd BitwiseOr BitwiseXor
BitwiseNot""".split()


def node_ops(graph):
    """op_types of the graph's nodes, subgraphs included."""
    for n in graph.node:
        if n.domain in ("", "ai.onnx"):
            yield n.op_type
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from node_ops(a.g)
            for g in a.graphs:
                yield from node_ops(g)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    by_op = defaultdict(list)
    for case in sorted(os.listdir(root)):
        path = os.path.join(root, case, "model.onnx")
        if not os.path.exists(path):
            continue
        model = onnx.load(path, load_external_data=False)
        used = set(node_ops(model.graph))
        # a case "exercises" an op when the op is the graph's only kind of node (the op's own test), or
        # one of several (an expanded function body or a composite test).
        for op in used & set(OPS):
            by_op[op].append((case, len(used) == 1))
    for op in OPS:
        cases = by_op.get(op, [])
        own = [c for c, alone in cases if alone]
        other = [c for c, alone in cases if not alone]
        print(f"{op}: {len(own)} direct, {len(other)} as part of larger graphs")
        for c in own:
            print(f"    {c}")
        if other and "--all" in sys.argv:
            for c in other:
                print(f"    ({c})")


if __name__ == "__main__":
    main()
