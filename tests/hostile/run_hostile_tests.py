#!/usr/bin/env python3
"""Runs every hostile case of make_hostile_models.py through the kiln CLI and checks what kiln says.

    python run_hostile_tests.py --kiln PATH --dir OUT_DIR [--make] [--only NAME ...] [--no-strace]

--make (re)writes the cases into OUT_DIR first with make_hostile_models.py (same interpreter). For each case,
`kiln run` and `kiln check` (and `kiln inspect` where the file cannot even be read) run under a wall-clock
limit, and the test asserts:
  - the exit status (non-zero for every hostile case; zero for the controls that must work),
  - no death by a signal and no hang (a command still running after --limit seconds fails),
  - the key phrases: what was wrong and where (the file, tensor, node, input, dim), in stderr for run and
    inspect, in the report for check (which must list every finding of a model at once),
  - for the external-data cases, that nothing outside the case's folder was read: the sentinel file's content
    never appears in anything kiln prints or writes, and (strace -f -y) no open() of a file in OUT_DIR/outside
    succeeded.
Exit status 0 when every case passes. The last line is "N passed, N failed".
"""
import argparse
import dataclasses
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from make_hostile_models import SENTINEL  # noqa: E402


@dataclasses.dataclass
class Call:
    """One kiln invocation on a case's model and what it must say."""
    command: str                     # run, check or inspect
    phrases: list                    # substrings that must all appear (stderr for run/inspect, stdout for check)
    args: list = dataclasses.field(default_factory=list)
    exit_code: int = 1               # kiln's exit status for errors is 1
    absent: list = dataclasses.field(default_factory=list)  # substrings that must not appear
    limit: float = 0                 # wall-clock seconds for this call; 0: --limit
    ordered: bool = False            # the phrases must appear in this order
    stream: str = ""                 # where the phrases are looked for; default stdout for check and successes
    names_file: str = ""             # a file in the case's folder: every name it lists must appear, quoted
    files: dict = dataclasses.field(default_factory=dict)  # output file -> check(path) returning a problem or None


@dataclasses.dataclass
class Case:
    name: str
    calls: list
    reads_outside: bool = False      # external data aimed outside the folder: sentinel and strace checks
    model: str = ""                  # a model outside OUT_DIR (the demo), relative to the repository


def refused(name, phrases, check=None, inspect=False, run_args=(), check_args=(), **kw):
    """`run` fails naming `phrases`; `check` reports them (or `check`'s own phrases) and exits 1."""
    calls = [Call("run", list(phrases), list(run_args)),
             Call("check", list(check if check is not None else phrases), list(check_args))]
    if inspect:
        calls.append(Call("inspect", list(phrases)))
    return Case(name, calls, **kw)


def unreadable(name, phrases, **kw):
    """A file the reader refuses: every command says so, check as an unreadable-model finding."""
    return refused(name, phrases, check=["[unreadable-model]"] + list(phrases), inspect=True, **kw)


def outside(name, phrases):
    return unreadable(name, ["tensor 'W'"] + list(phrases), reads_outside=True)


TIMEOUT_LIMIT = ["the run passed its deadline", "--timeout"]


def tensor_file(elem_type, dims, npy_twin=""):
    """An output written as a TensorProto .pb of this type and dims (and, when given, equal to the .npy twin)."""
    def check(path):
        import numpy as np
        import onnx
        from onnx import numpy_helper
        t = onnx.load_tensor(str(path))
        if t.data_type != elem_type or list(t.dims) != dims:
            return f"{path.name} holds type {t.data_type} dims {list(t.dims)}, expected {elem_type} {dims}"
        if npy_twin and not np.array_equal(numpy_helper.to_array(t), np.load(path.parent / npy_twin)):
            return f"{path.name} differs from {npy_twin}"
        return None
    return check

CASES = [
    # Files that are not (whole) ONNX models.
    unreadable("empty_file", ["empty_file/model.onnx", "not an ONNX model: the file is empty"]),
    unreadable("text_file", ["text_file/model.onnx", "not an ONNX model", "looks like text"]),
    unreadable("truncated_model", ["truncated_model/model.onnx", "the file ends", "truncated"]),
    unreadable("random_bytes", ["random_bytes/model.onnx", "not an ONNX model"]),
    unreadable("ir_version_0", ["IR version 0 is not valid"]),
    unreadable("ir_version_99", ["IR version 99 is newer than kiln knows"]),
    # Damaged kiln engines (recognised by their magic whatever the file's name): run and inspect refuse them with the
    # reason, check says the file is an engine, not a model.
    refused("engine_truncated", ["engine_truncated/model.onnx", "the engine is truncated: 28 bytes"],
            check=["[engine-not-model]"], inspect=True),
    refused("engine_newer_version", ["format version 99", "use the kiln that built it"],
            check=["[engine-not-model]"], inspect=True),
    refused("engine_size_lies", ["its header says 1099511627776", "truncated"], check=["[engine-not-model]"],
            inspect=True),
    refused("engine_bad_checksum", ["header checksum does not match", "rebuild it"], check=["[engine-not-model]"],
            inspect=True),
    # External data aimed outside the model's folder, and bad ranges and keys.
    outside("ext_absolute_path", ["is an absolute path", "relative to the model's folder"]),
    outside("ext_dotdot", ["'../outside/sentinel.bin' is refused", "'..'"]),
    outside("ext_nested_dotdot", ["'a/../../outside/sentinel.bin' is refused", "'..'"]),
    outside("ext_symlink_folder", ["'data/sentinel.bin' is refused", "folder 'data' is a symbolic link"]),
    outside("ext_symlink_file", ["'weights.bin' is refused", "symbolic link"]),
    outside("ext_hard_link", ["'weights.bin' is refused", "2 hard links"]),
    outside("ext_negative_offset", ["offset '-8'", "not a non-negative decimal number"]),
    outside("ext_huge_offset", [f"offset {2**62} is past the end of 'weights.bin' (64 bytes)"]),
    outside("ext_huge_length", [f"length {2**62} is past the end of 'weights.bin' (64 bytes)"]),
    outside("ext_range_past_end", ["offset 32 + length 64 is past the end of 'weights.bin' (64 bytes)"]),
    outside("ext_unknown_key", ["unknown external data key 'owner'"]),
    outside("ext_duplicate_key", ["external data key 'offset' appears twice"]),
    # Tensors whose dims, bytes or type lie.
    unreadable("dims_negative", ["tensor 'W'", "negative dim 0 = -1"]),
    unreadable("dims_overflow", ["tensor 'W'", "[4294967296,4294967296]", "overflows"]),
    unreadable("raw_data_short", ["tensor 'W'", "raw_data holds 12 bytes", "need 16"]),
    unreadable("raw_data_long", ["tensor 'W'", "raw_data holds 20 bytes", "need 16"]),
    unreadable("unknown_data_type", ["tensor 'W'", "data type 99", "not an ONNX type"]),
    unreadable("input_dims_negative", ["input 'x' declares dim 1 as -3", "a size >= 0"]),
    unreadable("input_dims_overflow", ["input 'x' declares dims [4294967296,4294967296]", "overflows"]),
    # A declared size too big to make: run refuses to invent the data, check finds the node over the limit.
    refused("input_dims_huge", ["input 'x'", "[1000000,1000000]", "limit for one tensor", "--shape x="],
            check=["[over-limit] node 'relu' (Relu)", "4000000000000 bytes", "max_tensor_bytes"]),
    # Graph structure.
    refused("graph_cycle", ["cycle", "node 'first' (Add)"], check=["[invalid-graph]", "cycle", "node 'first'"]),
    refused("dangling_input", ["node 'add_ghost' (Add)", "'nowhere'", "no node produces"],
            check=["[invalid-graph]", "node 'add_ghost' (Add)", "'nowhere'"]),
    refused("value_produced_twice", ["value 'y' is produced twice", "node 'relu_a' (Relu)", "node 'neg_b' (Neg)"],
            check=["[invalid-graph]", "value 'y' is produced twice"]),
    Case("unknown_op", [
        Call("run", ["FancyActivation", "'fancy'", "not an operator of ONNX's domain"]),
        Call("check", ["[unsupported-op]", "FancyActivation", "'fancy'"]),
        # inspect describes the model (exit 0) and says what kiln cannot run.
        Call("inspect", ["kiln cannot run:", "FancyActivation x1 (nodes fancy)"], exit_code=0),
    ]),
    refused("unknown_domain", ["com.example.custom", "'custom_relu'", "custom operator domain"],
            check=["[unsupported-op]", "com.example.custom", "'custom_relu'"]),
    refused("attribute_wrong_type", ["node 'transpose' (Transpose)", "attribute 'perm'", "ints", "string"],
            check=["[invalid-node] node 'transpose' (Transpose)", "attribute 'perm'"]),
    refused("attribute_missing", ["node 'cast' (Cast)", "required attribute 'to' is missing"],
            check=["[invalid-node] node 'cast' (Cast)", "required attribute 'to' is missing"]),
    # Resources: nesting, recursion, huge tensors, endless loops.
    unreadable("nesting_40_levels", ["nested more than 32 deep"]),
    refused("recursive_function", ["'call_rec'", "local function", "Rec", "calls itself"],
            check=["'call_rec'", "local function", "calls itself"]),
    refused("constant_of_shape_1e12", ["node 'fill' (ConstantOfShape)", "4000000000000 bytes", "over the limit"],
            check=["[over-limit] node 'fill' (ConstantOfShape)", "4000000000000 bytes", "over the limit"]),
    refused("expand_1e12", ["node 'expand' (Expand)", "4000000000000 bytes", "over the limit"],
            check=["[over-limit] node 'expand' (Expand)", "4000000000000 bytes"]),
    refused("tile_1e12", ["node 'tile' (Tile)", "4000000000000 bytes", "over the limit"],
            check=["[over-limit] node 'tile' (Tile)", "4000000000000 bytes"]),
    refused("range_1e12", ["node 'range' (Range)", "8000000000000 bytes", "over the limit"],
            check=["[over-limit] node 'range' (Range)", "8000000000000 bytes"]),
    Case("loop_forever", [
        # A million body runs take seconds of CPU; the machine may be shared, so this call gets more time.
        Call("run", ["node 'endless_loop' (Loop)", "more than 1000000 times", "max_subgraph_runs"], limit=180),
        Call("run", ["the run passed its deadline"], ["--timeout", "1"]),
        # The model itself is valid: check finds nothing that stops it from running.
        Call("check", ["OK, the model will run"], exit_code=0),
    ]),
    # The three export mistakes, exported with torch.onnx.export.
    Case("export_fixed_dims", [
        Call("run", ["input 'input' dim 2", "fixes this dim to 8", "but 16 was given", "dynamic_axes"],
             ["--shape", "input=1x3x16x16"]),
        Call("check", ["input 'input' dim 2", "fixes this dim to 8", "but 16 was given", "dynamic_axes"],
             ["--shape", "input=1x3x16x16"]),
        # Without a size, check warns (fixed dims are legal) and says the model runs at its export size.
        Call("check", ["[fixed-input-dims] input 'input'", "[1,3,8,8]", "dynamic_axes", "OK, the model will run"],
             exit_code=0),
    ]),
    Case("export_no_params", [
        Call("run", ["4 graph inputs", "'conv1.weight'", "'conv2.bias'", "export_params=True"],
             absent=["random"]),
        Call("check", ["[missing-weights]", "4 graph inputs", "'conv1.weight'", "'conv2.bias'",
                       "export_params=True"]),
    ]),
    Case("export_resnet18_no_params", [
        # The cause first: the error (every parameter, named or not) before any warning, and no dynamic_axes
        # advice for weights; the summary says what to do.
        Call("check", ["error: [missing-weights] 26 graph inputs", "26 graph inputs are trained parameters",
                       "warning: [fixed-input-dims] input 'input'",
                       "Do this first: re-export with export_params=True"],
             ordered=True, names_file="params.txt", absent=["dynamic_axes={'onnx::", "'fc.weight': {0"]),
        Call("run", ["26 graph inputs that are trained parameters", "export_params=True"], names_file="params.txt",
             absent=["random"]),
    ]),
    Case("export_opset_mismatch", [
        Call("run", ["node '/Resize' (Resize)", "opset 10", "takes 2 inputs", "has 3", "opset 11 and later"]),
        Call("check", ["[opset-mismatch] node '/Resize' (Resize)", "model's opset 10", "takes 2 inputs",
                       "has 3", "opset 11 and later", "opset_version"]),
    ]),
    refused("newer_op_than_opset", ["'positions'", "Range", "opset 11", "opset 9"],
            check=["[opset-mismatch] node 'positions' (Range)", "opset 9", "from opset 11", "opset_version=11"]),
    # Several problems in one model: check lists every one of them.
    Case("several_problems", [
        Call("check", ["[missing-weights]", "'fc.weight'", "[unsupported-op] op FancyActivation",
                       "[opset-mismatch] node 'positions' (Range)", "3 errors"]),
        Call("run", ["FancyActivation"]),
    ]),
    # Other exporters: paddle2onnx's "?" dims are unknown, not one shared name.
    Case("paddle_placeholder_dims", [
        Call("run", ["output  logits", "1x4x12x48"], ["--shape", "x=1x3x48x192"], exit_code=0,
             absent=["warning", "share a named dim"]),
        Call("check", ["OK, the model will run"], exit_code=0, absent=["shared-symbol"]),
        Call("check", ["OK, the model will run"], ["--shape", "x=1x3x48x192"], exit_code=0),
        Call("inspect", ["[?,3,?,?]"], exit_code=0),
    ]),
    # A real name for both height and width: check points at it, run goes ahead with one warning (stderr),
    # --strict-symbols refuses.
    Case("shared_symbol_hw", [
        Call("check", ["[shared-symbol] input 'x'", "'size' names dims 2 and 3 of input 'x'", "OK, the model will run"],
             exit_code=0),
        Call("check", ["[shared-symbol] dim 'size'", "given 192", "already set 'size' to 48"],
             ["--shape", "x=1x3x48x192"], exit_code=0),
        Call("run", ["kiln: warning: input 'x' dim 3 is 'size' in the model, given 192", "runs it with the sizes"],
             ["--shape", "x=1x3x48x192"], exit_code=0, stream="stderr"),
        Call("run", ["input 'x' dim 3 is 'size'", "share a named dim must agree"],
             ["--shape", "x=1x3x48x192", "--strict-symbols"]),
    ]),
    # Outputs NumPy cannot hold go to .pb with a note; --output-format pb writes every output so.
    Case("bfloat16_output", [
        Call("run", ["note    output 'y' is bfloat16", "note    output 'z' is float8e4m3fn", "y.pb", "z.pb", "r.npy"],
             exit_code=0, files={"y.pb": tensor_file(16, [2, 3]), "z.pb": tensor_file(17, [2, 3])}),
        Call("run", ["r.pb", "y.pb"], ["--output-format", "pb"], exit_code=0, absent=["note"],
             files={"r.pb": tensor_file(1, [2, 3]), "y.pb": tensor_file(16, [2, 3])}),
    ]),
    # Controls: what must work.
    Case("export_dynamic_ok", [
        Call("run", ["output  output", "1x2x16x16"], ["--shape", "input=1x3x16x16"], exit_code=0),
        Call("check", ["OK, the model will run"], ["--shape", "input=1x3x16x16"], exit_code=0),
        Call("inspect", ["input      input", "[batch,3,height,width]"], exit_code=0),
    ]),
    Case("demo_model", [
        Call("run", ["output  output", "1x1x96x96"], ["--shape", "input=1x1x32x32"], exit_code=0),
        Call("check", ["OK, the model will run"], exit_code=0),
    ], model="models/super_resolution.onnx"),
]


def strace_violations(trace: pathlib.Path, outside: pathlib.Path) -> list:
    """Successful open()s of files in `outside` (strace -y prints the path an fd refers to after '= N<')."""
    bad = []
    marker = str(outside.resolve())
    for line in trace.read_text(errors="replace").splitlines():
        m = re.search(r"= (\d+)<([^>]*)>\s*$", line)
        if m and (m.group(2) == marker or m.group(2).startswith(marker + "/")):
            bad.append(line.strip())
    return bad


def run_call(kiln, model, call, limit, strace, trace_file, output_dir):
    cmd = [str(kiln), call.command, str(model)] + call.args
    if call.command == "run":
        cmd += ["--output-dir", str(output_dir)]
    if strace:
        cmd = [strace, "-f", "-y", "-qq", "-e", "trace=open,openat,openat2,creat", "-o", str(trace_file)] + cmd
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, b"", b"", time.monotonic() - start
    return proc.returncode, out, err, time.monotonic() - start


def check_case(case, kiln, out_dir, limit, strace):
    problems = []
    model = (REPO / case.model) if case.model else out_dir / case.name / "model.onnx"
    if not model.exists():
        return [f"model {model} does not exist (run make_hostile_models.py)"]
    for call in case.calls:
        with tempfile.TemporaryDirectory(prefix="kiln-hostile-") as tmp:
            tmp = pathlib.Path(tmp)
            trace = tmp / "strace.txt"
            use_strace = strace if case.reads_outside else None
            call_limit = call.limit or limit
            code, out, err, seconds = run_call(kiln, model, call, call_limit, use_strace, trace, tmp / "out")
            label = f"kiln {call.command} {' '.join(call.args)}".rstrip()
            if code is None:
                problems.append(f"{label}: still running after {call_limit} s (hang)")
                continue
            text = (out + err).decode(errors="replace")
            shown = "\n      ".join(text.strip().splitlines()[:12])
            if code < 0:
                problems.append(f"{label}: killed by signal {-code} ({signal.Signals(-code).name})\n      {shown}")
                continue
            if code != call.exit_code:
                problems.append(f"{label}: exit status {code}, expected {call.exit_code}\n      {shown}")
            # Errors go to stderr; check's report and a successful run's summary go to stdout.
            stream = call.stream or ("stdout" if call.command == "check" or call.exit_code == 0 else "stderr")
            where = (out if stream == "stdout" else err).decode(errors="replace")
            phrases = list(call.phrases)
            if call.names_file:
                names = (model.parent / call.names_file).read_text().split()
                if not names:
                    problems.append(f"{label}: {call.names_file} lists no names")
                phrases += [f"'{n}'" for n in names]
            missing = [p for p in phrases if p not in where]
            unwanted = [p for p in call.absent if p in text]
            if call.ordered and not missing:
                at = [where.find(p) for p in call.phrases]
                if at != sorted(at):
                    problems.append(f"{label}: {stream} has {call.phrases} out of order")
            for name, check in call.files.items():
                path = tmp / "out" / name
                problem = f"{label}: wrote no {name}" if not path.exists() else check(path)
                if problem:
                    problems.append(problem)
            if missing:
                problems.append(f"{label}: {stream} lacks {missing}")
            if unwanted:
                problems.append(f"{label}: output has {unwanted}, which should not appear")
            if missing or unwanted:
                problems.append(f"{label} said:\n      {shown}")
            if case.reads_outside:
                written = b"".join(p.read_bytes() for p in tmp.rglob("*") if p.is_file() and p != trace)
                if SENTINEL[:24] in out + err + written:
                    problems.append(f"{label}: the sentinel's content (outside the model's folder) was output")
                if use_strace:
                    for line in strace_violations(trace, out_dir / "outside"):
                        problems.append(f"{label}: opened a file outside the model's folder: {line}")
            if seconds > call_limit / 2:
                print(f"    note: {label} took {seconds:.1f} s")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", required=True, type=pathlib.Path)
    ap.add_argument("--dir", required=True, type=pathlib.Path, help="folder of the cases (make_hostile_models.py)")
    ap.add_argument("--make", action="store_true", help="write the cases into --dir first")
    ap.add_argument("--only", nargs="*", help="run only these cases")
    ap.add_argument("--limit", type=float, default=30.0, help="wall-clock seconds per kiln command")
    ap.add_argument("--no-strace", action="store_true", help="skip the strace check (content checks remain)")
    args = ap.parse_args()
    out_dir = args.dir.resolve()
    if args.make:
        subprocess.run([sys.executable, str(HERE / "make_hostile_models.py"), str(out_dir)], check=True)
    strace = None if args.no_strace else shutil.which("strace")
    if not args.no_strace and not strace:
        sys.exit("strace is not installed (scripts/bootstrap.sh installs it); pass --no-strace to skip that check")

    names = {c.name for c in CASES}
    made = {p.name for p in out_dir.iterdir() if p.is_dir() and p.name != "outside"}
    passed = failed = 0
    for name in sorted(made - names):  # every class the generator writes must be asserted here
        print(f"FAIL {name}: the generator wrote this case but the runner has no expectations for it")
        failed += 1
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        problems = check_case(case, args.kiln.resolve(), out_dir, args.limit, strace)
        if problems:
            failed += 1
            print(f"FAIL {case.name}")
            for p in problems:
                print(f"  - {p}")
        else:
            passed += 1
            print(f"ok   {case.name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
