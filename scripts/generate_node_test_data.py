#!/usr/bin/env python3
"""Writes the ONNX backend node tests (model.onnx + test_data_set_0/{input,output}_N.pb) to a folder.

The onnx wheel ships the code that defines the node tests (onnx/backend/test/case/node/*.py) but not always
the generated data; this regenerates it the way onnx's own tooling does, with onnx's reference outputs.
    .venv/bin/python scripts/generate_node_test_data.py OUT_DIR [OP_TYPE]
"""
import os
import shutil
import sys

from onnx import numpy_helper
from onnx.backend.test.case import node as node_cases


def write_case(root, case):
    out = os.path.join(root, case.name)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(out, f"test_data_set_{i}")
        os.makedirs(ds)
        for kind, values, infos in (("input", inputs, case.model.graph.input),
                                    ("output", outputs, case.model.graph.output)):
            for j, v in enumerate(values):
                if not infos[j].type.HasField("tensor_type"):
                    continue  # sequences/optionals: not needed for tensor ops
                proto = v if hasattr(v, "SerializeToString") else numpy_helper.from_array(v, infos[j].name)
                with open(os.path.join(ds, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())


def main():
    root = sys.argv[1]
    op_type = sys.argv[2] if len(sys.argv) > 2 else None
    cases = node_cases.collect_testcases(op_type)
    for case in cases:
        try:
            write_case(root, case)
        except Exception as e:  # one odd case must not stop the rest
            print(f"skipped {case.name}: {e}", file=sys.stderr)
    print(f"{len(cases)} cases written to {root}")


if __name__ == "__main__":
    main()
