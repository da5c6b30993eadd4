#!/usr/bin/env python3
"""Writes the ONNX backend *node* test cases to OUT/node, the way the ONNX runner lays them out.

The onnx wheel (pinned: onnx==1.23.2) ships the other folders as data (pytorch-converted, pytorch-operator,
simple, light) but only the code that defines the node cases, so they are generated here from that code:
model.onnx plus test_data_set_N/{input,output}_M.pb, inputs and outputs as the case defines them (sequences
and optionals as SequenceProto / OptionalProto). Re-running with the same onnx version does nothing.

    .venv/bin/python tests/conformance/prepare_data.py OUT
"""
import os
import shutil
import sys
import warnings

import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node as node_cases


def serialize(value, info):
    t = info.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, info.name).SerializeToString()
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, info.name).SerializeToString()
    if hasattr(value, "SerializeToString"):
        return value.SerializeToString()
    return numpy_helper.from_array(value, info.name).SerializeToString()


def write_case(root, case):
    out = os.path.join(root, case.name)
    os.makedirs(out)
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(out, f"test_data_set_{i}")
        os.makedirs(ds)
        for kind, values, infos in (("input", inputs, case.model.graph.input),
                                    ("output", outputs, case.model.graph.output)):
            for j, v in enumerate(values):
                with open(os.path.join(ds, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(serialize(v, infos[j]))


def main():
    out = os.path.join(sys.argv[1], "node")
    stamp = os.path.join(out, ".onnx-version")
    if os.path.exists(stamp) and open(stamp).read() == onnx.__version__:
        return
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    warnings.simplefilter("ignore")
    cases = node_cases.collect_testcases(None)
    for case in cases:
        write_case(out, case)
    with open(stamp, "w") as f:
        f.write(onnx.__version__)
    print(f"prepare_data: wrote {len(cases)} node cases to {out}")


if __name__ == "__main__":
    main()
