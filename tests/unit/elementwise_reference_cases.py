"""The cases gen_elementwise_reference.py turns into gtests: small inputs chosen to reach every type family,
the broadcasting patterns, and the edge values (NaN, infinities, signed zeros, wrap-around, halves)."""
import math

import numpy as np
from onnx import TensorProto as TP

F32, F64, F16 = np.float32, np.float64, np.float16
INF, NAN = np.inf, np.nan
INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def add_unary_cases(s, rnd, ints, arr, BF16):
    floats = {"f32": F32, "f64": F64, "f16": F16, "bf16": BF16}

    s.section("math", "One-input math: functions per float type, Round, Abs/Neg/Sign, IsInf/IsNaN.")
    # -- math functions: every op on float32, a spread of them on every float type --
    wide = rnd((2, 5))
    for op, opset, x in [
        ("Exp", 13, wide), ("Sin", 7, wide), ("Cos", 7, wide), ("Tan", 7, rnd((6,), lo=-1.2, hi=1.2)),
        ("Tanh", 13, wide), ("Atan", 7, wide), ("Asinh", 9, wide), ("Sinh", 9, wide), ("Cosh", 9, wide),
        ("Ceil", 13, wide), ("Floor", 13, wide), ("Reciprocal", 13, wide), ("Erf", 13, wide),
        ("Asin", 7, rnd((6,), lo=-0.99, hi=0.99)), ("Acos", 7, rnd((6,), lo=-0.99, hi=0.99)),
        ("Atanh", 9, rnd((6,), lo=-0.95, hi=0.95)), ("Acosh", 9, rnd((6,), lo=1, hi=6)),
        ("Log", 13, rnd((6,), lo=0.01, hi=9)), ("Sqrt", 13, rnd((6,), lo=0, hi=9)),
    ]:
        s.case(f"{op}_f32", op, opset, [x])
    for name, t in floats.items():
        if name == "f32":
            continue
        for op in ["Exp", "Tanh", "Floor", "Ceil", "Sin", "Neg", "Abs", "Reciprocal"]:
            s.case(f"{op}_{name}", op, 13 if op not in ("Sin",) else 22, [rnd((5,), t)])
        s.case(f"Log_{name}", "Log", 13, [rnd((4,), t, lo=0.1, hi=8)])
        s.case(f"Sqrt_{name}", "Sqrt", 13, [rnd((4,), t, lo=0, hi=8)])
    s.case("Log_edges", "Log", 13, [arr([0, -0.0, -1, INF, NAN, 1], F32)])
    s.case("Sqrt_edges", "Sqrt", 13, [arr([-1, -0.0, INF, NAN], F32)])
    s.case("Exp_overflow", "Exp", 13, [arr([100, -200, INF, -INF, NAN], F32)])
    s.case("Reciprocal_zeros", "Reciprocal", 13, [arr([0, -0.0, INF], F32)])

    # -- Round: halves go to the even neighbour, signed zeros kept --
    halves = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.4, NAN, INF, -INF, 1e20]
    for name, t in floats.items():
        s.case(f"Round_half_even_{name}", "Round", 22, [arr(halves if t != F16 else halves[:-1], t)])

    # -- Abs, Neg, Sign over integers (wrap-around at the minimum) and floats --
    for t in INT_TYPES:
        info = np.iinfo(t)
        vals = [info.min, info.min + 1, 0, 5, info.max] if info.min < 0 else [0, 1, 7, info.max]
        s.case(f"Abs_{t.__name__}", "Abs", 13, [arr(vals, t)])
        s.case(f"Sign_{t.__name__}", "Sign", 13, [arr(vals, t)])
        if info.min < 0:
            s.case(f"Neg_{t.__name__}", "Neg", 13, [arr(vals, t)])
    s.case("Sign_f32", "Sign", 13, [arr([-2.5, -0.0, 0, 3, NAN, -INF], F32)])
    s.case("Abs_f32", "Abs", 13, [arr([-2.5, -0.0, 3, NAN, -INF], F32)])
    s.case("Erf_int32_opset9", "Erf", 9, [arr([-5, -1, 0, 1, 5], np.int32)])

    # -- IsInf / IsNaN --
    special = arr([INF, -INF, 0, 1.5, NAN, -3], F32)
    for neg, pos in [(1, 1), (0, 1), (1, 0), (0, 0)]:
        s.case(f"IsInf_neg{neg}_pos{pos}", "IsInf", 10, [special], {"detect_negative": neg, "detect_positive": pos})
    s.case("IsInf_f16", "IsInf", 20, [special.astype(F16)])
    s.case("IsNaN_f32", "IsNaN", 13, [special])
    s.case("IsNaN_f64", "IsNaN", 13, [special.astype(F64)])
    s.case("IsNaN_bf16", "IsNaN", 13, [special.astype(BF16)])

    s.section("activations", "Activations and Clip.")
    # -- activations --
    x = rnd((3, 4), lo=-4, hi=4)
    for op, opset, attrs in [
        ("Relu", 14, {}), ("LeakyRelu", 16, {}), ("LeakyRelu", 16, {"alpha": 0.3}), ("Elu", 6, {}),
        ("Elu", 22, {"alpha": 0.5}), ("Selu", 6, {}), ("Selu", 22, {"alpha": 2.0, "gamma": 3.0}), ("Celu", 12, {}),
        ("Celu", 12, {"alpha": 2.0}), ("Sigmoid", 13, {}), ("HardSigmoid", 6, {}),
        ("HardSigmoid", 22, {"alpha": 0.3, "beta": 0.6}), ("HardSwish", 14, {}), ("Softplus", 1, {}),
        ("Softsign", 1, {}), ("Mish", 18, {}),
        ("ThresholdedRelu", 10, {}), ("ThresholdedRelu", 10, {"alpha": 2.0}), ("Shrink", 9, {}),
        ("Shrink", 9, {"lambd": 1.5, "bias": 0.5}),
    ]:
        suffix = "_".join(f"{k}{v}" for k, v in attrs.items()).replace(".", "p")
        s.case(f"{op}_f32{'_' + suffix if suffix else ''}", op, opset, [x], attrs)
    s.case("Gelu_f32", "Gelu", 20, [x], expected=[exact_gelu(x.astype(F64)).astype(F32)], note="formula in double")
    s.case("Gelu_tanh_f32", "Gelu", 20, [x], {"approximate": "tanh"})
    # onnx.reference runs Gelu and HardSwish as function bodies, step by step in the input's type (and Gelu
    # with a loose erf); their expected values here come from the formulas evaluated in double instead.
    exact = {"Gelu": exact_gelu,
             "HardSwish": lambda v: v * np.clip(v / 6 + 0.5, 0, 1)}
    for op, opset in [("Relu", 14), ("Sigmoid", 13), ("Gelu", 20), ("HardSwish", 22), ("Mish", 22)]:
        for name, t in [("f16", F16), ("f64", F64), ("bf16", BF16)]:
            xt = x.astype(t)
            want = [exact[op](xt.astype(F64)).astype(t)] if op in exact else None
            s.case(f"{op}_{name}", op, opset, [xt], expected=want, note="expected: formula in double" if want else None)
    tanh_gelu = lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
    s.case("Gelu_tanh_f64", "Gelu", 20, [x.astype(F64)], {"approximate": "tanh"},
           expected=[tanh_gelu(x.astype(F64))], note="expected: formula in double")
    s.case("Sigmoid_extremes", "Sigmoid", 13, [arr([-100, -20, 0, 20, 100, NAN], F32)])
    s.case("Relu_nan", "Relu", 14, [arr([NAN, -1, 5, -INF], F32)])
    s.case("Relu_int8", "Relu", 14, [arr([-128, -1, 0, 1, 127], np.int8)])
    s.case("Relu_int64", "Relu", 14, [arr([-(2**62), -1, 0, 1, 2**62], np.int64)])
    s.case("Shrink_int32", "Shrink", 9, [arr([-5, -2, -1, 0, 1, 2, 5], np.int32)], {"lambd": 1.5, "bias": 1.5})

    # -- Clip --
    cx = rnd((2, 5), lo=-5, hi=5)
    s.case("Clip_opset6_attrs", "Clip", 6, [cx], {"min": -1.5, "max": 2.0})
    s.case("Clip_opset6_default", "Clip", 6, [cx])
    s.case("Clip_opset11_min_only", "Clip", 11, [cx, arr(-1, F32)])
    s.case("Clip_opset11_max_only", "Clip", 11, [cx, None, arr(1, F32)])
    s.case("Clip_opset13_both", "Clip", 13, [cx, arr(-1, F32), arr(1, F32)])
    s.case("Clip_min_above_max", "Clip", 13, [cx, arr(2, F32), arr(1, F32)])
    s.case("Clip_nan", "Clip", 13, [arr([NAN, -INF, INF, 0.5], F32), arr(0, F32), arr(1, F32)])
    s.case("Clip_int32", "Clip", 13, [arr([-9, -3, 0, 4, 9], np.int32), arr(-3, np.int32), arr(5, np.int32)])
    s.case("Clip_uint8", "Clip", 12, [arr([0, 3, 200, 255], np.uint8), arr(2, np.uint8), arr(250, np.uint8)])
    s.case("Clip_int64_no_bounds", "Clip", 13, [arr([-(2**40), 7], np.int64)])
    s.case("Clip_f16", "Clip", 13, [cx.astype(F16), arr(-1, F16), arr(1, F16)])

    s.section("cast", "Cast and CastLike between every type family, Identity, Dropout.")
    # -- Cast: every family pair, in-range values (out-of-range below, from onnxruntime) --
    fx = arr([-2.75, -1.5, -0.5, 0, 0.5, 1.7, 100.9], F32)
    for t in INT_TYPES:
        vals = fx if np.iinfo(t).min < 0 else np.abs(fx)
        s.case(f"Cast_f32_to_{t.__name__}", "Cast", 21, [vals], {"to": TP_OF[t]})
        s.case(f"Cast_f64_to_{t.__name__}", "Cast", 21, [vals.astype(F64)], {"to": TP_OF[t]})
        s.case(f"Cast_{t.__name__}_to_f32", "Cast", 21, [ints((5,), t, 0, 100)], {"to": TP.FLOAT})
        s.case(f"Cast_{t.__name__}_to_f16", "Cast", 21, [ints((5,), t, 0, 100)], {"to": TP.FLOAT16})
        s.case(f"Cast_{t.__name__}_to_bool", "Cast", 21, [ints((5,), t, 0, 2)], {"to": TP.BOOL})
    s.case("Cast_int64_to_int8_wraps", "Cast", 21, [arr([200, -200, 2**40 + 3, -1], np.int64)], {"to": TP.INT8})
    s.case("Cast_int32_to_uint16_wraps", "Cast", 21, [arr([-1, 70000, 65535], np.int32)], {"to": TP.UINT16})
    s.case("Cast_uint64_to_int64", "Cast", 21, [arr([2**64 - 1, 2**63, 5], np.uint64)], {"to": TP.INT64})
    s.case("Cast_large_int64_to_f32_rounds", "Cast", 21, [arr([2**40 + 1, -(2**24) - 1], np.int64)], {"to": TP.FLOAT})
    s.case("Cast_f32_to_bool", "Cast", 21, [arr([0, -0.0, 0.1, NAN, -INF], F32)], {"to": TP.BOOL})
    s.case("Cast_bool_to_f32", "Cast", 21, [arr([True, False], np.bool_)], {"to": TP.FLOAT})
    s.case("Cast_bool_to_int64", "Cast", 21, [arr([True, False], np.bool_)], {"to": TP.INT64})
    s.case("Cast_f32_to_f16", "Cast", 21, [arr([0.1, 65504, 70000, -1e-8, NAN, -INF], F32)], {"to": TP.FLOAT16})
    s.case("Cast_f64_to_f32", "Cast", 21, [arr([0.1, 1e39, -1e39, 1e-50], F64)], {"to": TP.FLOAT})
    s.case("Cast_f32_to_bf16", "Cast", 21, [arr([0.1, 3.14159, 1e38, NAN], F32)], {"to": TP.BFLOAT16})
    s.case("Cast_bf16_to_f64", "Cast", 21, [arr([0.1, -2.5, INF], BF16)], {"to": TP.DOUBLE})
    s.case("Cast_f16_to_f32", "Cast", 21, [arr([0.1, -2.5, 65504, INF], F16)], {"to": TP.FLOAT})
    s.case("Cast_f16_to_int32", "Cast", 21, [arr([0.9, -2.5, 1000.7], F16)], {"to": TP.INT32})
    s.case("Cast_opset1_string_to", "Cast", 1, [arr([1.5, -2.5], F32)], {"to": "INT32"},
           expected=[arr([1, -2], np.int32)], note="Cast-1 names the type; the values match opset 21's cast")
    s.case("Cast_f32_to_uint8_out_of_range", "Cast", 21, [arr([300.7, -1.5, 1e10, NAN], F32)], {"to": TP.UINT8},
           engine="ort", note="out-of-range float->int is undefined in ONNX; onnxruntime (x86) gives these")
    s.case("Cast_f32_to_int32_out_of_range", "Cast", 21, [arr([3e9, -3e9, NAN, 2147483520], F32)],
           {"to": TP.INT32}, engine="ort")
    s.case("Cast_f64_to_int64_out_of_range", "Cast", 21, [arr([1e19, -1e19, NAN, -9.2e18], F64)],
           {"to": TP.INT64}, engine="ort")
    s.case("Cast_f32_to_string", "Cast", 21, [arr([0.1, 1, 1e20, -0.0, NAN, INF, -INF, 123456789, 1e-7], F32)],
           {"to": TP.STRING}, engine="ort", note="string form from onnxruntime (shortest round-trip text)")
    f64s = arr([1 / 3, 0.1, -2.5, 1e-300, 6.02214076e23], F64)
    s.case("Cast_f64_to_string", "Cast", 21, [f64s], {"to": TP.STRING}, expected=[f64s.astype(str).astype(object)],
           note="numpy's str() (shortest round-trip); onnxruntime prints doubles with only 8 digits")
    s.case("Cast_int64_to_string", "Cast", 21, [arr([-(2**63), 0, 42], np.int64)], {"to": TP.STRING}, engine="ort")
    s.case("Cast_bool_to_string", "Cast", 21, [arr([True, False], np.bool_)], {"to": TP.STRING}, engine="ort")
    strs = arr(["1.5", "-2.75", "1e3", "INF", "-inf", "NaN", "+INF", " 7 ", "1E-5"], object)
    s.case("Cast_string_to_f32", "Cast", 21, [strs], {"to": TP.FLOAT})
    s.case("Cast_string_to_f64", "Cast", 21, [strs], {"to": TP.DOUBLE})
    s.case("Cast_string_to_int32", "Cast", 21, [arr(["1", "-2", "300", "0", "2147483647"], object)],
           {"to": TP.INT32}, engine="ort")
    s.case("Cast_string_to_uint64", "Cast", 21, [arr(["18446744073709551615", "7"], object)], {"to": TP.UINT64})
    s.case("Cast_string_to_bool", "Cast", 21, [arr(["1", "0", "2", "-1"], object)], {"to": TP.BOOL}, engine="ort")
    s.case("CastLike_f32_to_int64", "CastLike", 15, [fx, arr([0], np.int64)])
    s.case("CastLike_int32_to_f16", "CastLike", 15, [arr([1, -300, 70000], np.int32), arr([0], F16)])
    s.case("CastLike_to_string", "CastLike", 15, [arr([1, -3], np.int32), arr(["x"], object)], engine="ort")

    # -- Identity and Dropout --
    s.case("Identity_f32", "Identity", 16, [x])
    s.case("Identity_string", "Identity", 13, [arr(["a", "", "ccc"], object)])
    s.case("Identity_int8", "Identity", 1, [arr([-1, 2], np.int8)])
    s.case("Dropout_opset7_mask_has_data_type", "Dropout", 7, [x], outputs=2,
           expected=[x, np.ones_like(x)], note="Dropout-7 at inference: a copy; its mask had the data's type")
    s.case("Dropout_opset10_mask", "Dropout", 10, [x], {"ratio": 0.3}, outputs=2)
    s.case("Dropout_opset13_training_false", "Dropout", 13, [x, arr(0.5, F32), arr(False, np.bool_)], outputs=2)
    s.case("Dropout_opset13_training_true_ratio0", "Dropout", 13, [x, arr(0.0, F32), arr(True, np.bool_)], outputs=2)
    s.case("Dropout_opset22_f16", "Dropout", 22, [x.astype(F16)])


def exact_gelu(v):
    return 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))


TP_OF = {np.int8: TP.INT8, np.int16: TP.INT16, np.int32: TP.INT32, np.int64: TP.INT64, np.uint8: TP.UINT8,
         np.uint16: TP.UINT16, np.uint32: TP.UINT32, np.uint64: TP.UINT64}


def add_binary_cases(s, rnd, ints, arr, BF16):
    s.section("arith", "Broadcasting patterns, Add/Sub/Mul/Div per type, Mod, Pow, Min/Max/Sum/Mean.")
    # -- broadcasting patterns (Sub and Div: operand order matters) --
    shapes = [
        ("same", (2, 3), (2, 3)), ("trailing_vector", (2, 3, 4), (4,)), ("column", (2, 3, 4), (3, 1)),
        ("both_grow", (2, 1, 4), (1, 3, 1)), ("scalar_right", (2, 3), ()), ("scalar_left", (), (2, 3)),
        ("one_elem_left", (1,), (2, 3)), ("per_channel", (2, 3, 2, 2), (3, 1, 1)),
        ("interleaved", (3, 1, 2, 1), (1, 4, 1, 5)), ("rank_up", (4,), (2, 1, 1)), ("empty", (0, 3), (3,)),
    ]
    for name, sa, sb in shapes:
        s.case(f"Sub_bcast_{name}", "Sub", 14, [rnd(sa), rnd(sb)])
    s.case("Div_bcast_both_grow", "Div", 14, [rnd((2, 1, 4)), rnd((1, 3, 1), lo=0.5, hi=3)])
    s.case("Mul_bcast_per_channel", "Mul", 14, [rnd((2, 3, 2, 2)), rnd((3, 1, 1))])
    s.case("Add_bcast_interleaved", "Add", 7, [rnd((3, 1, 2, 1)), rnd((1, 4, 1, 5))])

    # -- arithmetic per type, wrap-around for integers --
    for op in ["Add", "Sub", "Mul", "Div"]:
        for name, t in [("f64", np.float64), ("f16", np.float16), ("bf16", BF16)]:
            s.case(f"{op}_{name}", op, 14, [rnd((2, 3), t), rnd((3,), t, lo=0.5, hi=3)])
    for t in INT_TYPES:
        info = np.iinfo(t)
        a = arr([info.max, info.min, 7, info.max // 3, 9], t)
        b = arr([1, 1 if info.min == 0 else -1, 3, 4, 2], t)
        for op in ["Add", "Sub", "Mul"]:
            s.case(f"{op}_{t.__name__}_wraps", op, 14, [a, b])
        if info.min < 0:
            s.case(f"Div_{t.__name__}_truncates", "Div", 14,
                   [arr([-7, 7, -7, 7, info.min, info.max, 0], t), arr([2, -2, -2, 2, -1, -1, -5], t)])
        else:
            s.case(f"Div_{t.__name__}", "Div", 14, [arr([7, 6, info.max, 0], t), arr([2, 3, 1, 5], t)])
    s.case("Mul_uint16_no_int_promotion_overflow", "Mul", 14, [arr([65535, 300], np.uint16), arr([65535, 300], np.uint16)])
    s.case("Div_f32_by_zero", "Div", 14, [arr([1, -1, 0, NAN], F32), arr([0, 0, 0, 1], F32)])

    # -- Mod --
    for t in INT_TYPES:
        if np.iinfo(t).min < 0:
            a, b = arr([-7, 7, -7, 7, 6, -6, np.iinfo(t).min], t), arr([3, -3, -3, 3, 3, -3, -1], t)
        else:
            a, b = arr([7, 6, 0, np.iinfo(t).max], t), arr([3, 3, 5, 10], t)
        s.case(f"Mod_{t.__name__}_sign_of_divisor", "Mod", 13, [a, b])
        s.case(f"Mod_{t.__name__}_fmod", "Mod", 13, [a, b], {"fmod": 1})
    fa, fb = arr([5.5, -5.5, 5.5, -5.5, 0, -0.0, 3, INF, 3, NAN], F32), arr([3, 3, -3, -3, -2, 2, INF, 2, -INF, 1], F32)
    s.case("Mod_f32_fmod", "Mod", 13, [fa, fb], {"fmod": 1})
    s.case("Mod_f32_floor_opset28", "Mod", 28, [fa, fb])
    s.case("Mod_f16_fmod", "Mod", 13, [fa.astype(F16), fb.astype(F16)], {"fmod": 1})
    s.case("Mod_f64_bcast", "Mod", 13, [rnd((2, 3), F64, -9, 9), arr([2.5, -1.5, 4], F64)], {"fmod": 1})

    # -- Pow: base and exponent types may differ --
    s.case("Pow_f32_bcast", "Pow", 15, [rnd((2, 3), lo=0.1, hi=3), rnd((3,), lo=-2, hi=2)])
    s.case("Pow_f32_negative_base", "Pow", 15, [arr([-2, -2, -8, 0, 0], F32), arr([3, 0.5, 1 / 3, 0, -1], F32)])
    s.case("Pow_f32_int64_exponent", "Pow", 15, [arr([2, 3, -1.5], F32), arr([3, -2, 2], np.int64)])
    s.case("Pow_f64", "Pow", 15, [rnd((4,), F64, 0.1, 3), rnd((4,), F64, -2, 2)])
    s.case("Pow_f16", "Pow", 15, [rnd((4,), F16, 0.1, 3), rnd((4,), F16, -2, 2)])
    s.case("Pow_int32", "Pow", 15, [arr([2, 3, -2, 0, 7], np.int32), arr([3, 2, 3, 0, 1], np.int32)])
    s.case("Pow_int64_wraps", "Pow", 15, [arr([3, 2], np.int64), arr([41, 64], np.int64)])
    s.case("Pow_int64_f32_exponent", "Pow", 15, [arr([2, 9, 5], np.int64), arr([0.5, 0.5, 2.2], F32)])
    s.case("Pow_int32_uint8_exponent", "Pow", 15, [arr([2, -3], np.int32), arr([10, 3], np.uint8)])

    # -- variadic --
    va, vb, vc = rnd((2, 1, 3)), rnd((4, 1)), rnd((3,))
    for op in ["Min", "Max", "Sum", "Mean"]:
        # onnx.reference's Mean accumulates in place and cannot grow the first input: numpy directly
        mean = [((va + vb) + vc) / F32(3)] if op == "Mean" else None
        s.case(f"{op}_three_bcast", op, 13, [va, vb, vc], expected=mean,
               note="expected: numpy ((a + b) + c) / 3" if mean else None)
        s.case(f"{op}_one_input", op, 13, [va])
        s.case(f"{op}_f16", op, 13, [va.astype(F16), vc.astype(F16)],
               expected=[(va.astype(F16) + vc.astype(F16)) / F16(2)] if op == "Mean" else None)
    s.case("Min_nan", "Min", 13, [arr([NAN, 1, 5], F32), arr([2, NAN, 1], F32)])
    s.case("Max_nan", "Max", 13, [arr([NAN, 1, 5], F32), arr([2, NAN, 1], F32)])
    for t in [np.int8, np.uint8, np.int64, np.uint64]:
        info = np.iinfo(t)
        a, b = arr([info.min, info.max, 3], t), arr([info.max, info.min, 4], t)
        s.case(f"Min_{t.__name__}", "Min", 13, [a, b])
        s.case(f"Max_{t.__name__}", "Max", 13, [a, b, arr([1], t)])

    s.section("logic", "Comparisons, And/Or/Xor/Not, Where, bit operations, PRelu.")
    # -- comparisons --
    ca = arr([[1, NAN, -0.0, 3], [INF, 2, 2, -INF]], F32)
    cb = arr([2, NAN, 0, 3], F32)
    for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]:
        s.case(f"{op}_f32_nan_bcast", op, 16 if "Or" in op else 13, [ca, cb])
        s.case(f"{op}_int16", op, 16 if "Or" in op else 13, [arr([-3, 0, 5], np.int16), arr([0], np.int16)])
        s.case(f"{op}_uint64", op, 16 if "Or" in op else 13, [arr([0, 2**63, 2**64 - 1], np.uint64),
                                                               arr([2**63], np.uint64)])
        s.case(f"{op}_bf16", op, 16 if "Or" in op else 13, [ca.astype(BF16), cb.astype(BF16)])
    s.case("Equal_string_bcast", "Equal", 19, [arr([["a", "bc"], ["", "x"]], object), arr(["a", "x"], object)])
    s.case("Equal_bool", "Equal", 11, [arr([True, False, True], np.bool_), arr([True], np.bool_)])

    # -- logic --
    la, lb = arr([[True, False, True]], np.bool_), arr([[True], [False]], np.bool_)
    for op in ["And", "Or", "Xor"]:
        s.case(f"{op}_bcast", op, 7, [la, lb])
    s.case("Not", "Not", 1, [arr([[True, False], [False, True]], np.bool_)])

    # -- Where --
    s.case("Where_three_way_bcast", "Where", 16, [arr([[[True]], [[False]]], np.bool_).reshape(2, 1, 1) &
                                                  arr([True, False, True], np.bool_), rnd((1, 4, 1)), rnd((3,))])
    s.case("Where_cond_bcast_int64", "Where", 16, [arr([True, False], np.bool_).reshape(2, 1),
                                                   arr([[1, 2, 3]], np.int64), arr([[-1], [-2]], np.int64)])
    s.case("Where_string", "Where", 16, [arr([True, False, True], np.bool_), arr(["a", "b", "c"], object),
                                         arr(["x"], object)])
    s.case("Where_scalar_cond", "Where", 9, [arr(False, np.bool_), rnd((2, 2)), rnd((2, 2))])

    # -- bit operations --
    for t in [np.uint8, np.uint16, np.uint32, np.uint64]:
        bits = np.iinfo(t).bits
        x, y = arr([1, 16, np.iinfo(t).max, 5], t), arr([1, 3, bits - 1, 0], t)
        for d in ["LEFT", "RIGHT"]:
            s.case(f"BitShift_{t.__name__}_{d.lower()}", "BitShift", 11, [x, y], {"direction": d})
    for t in [np.int8, np.int32, np.int64]:
        bits = np.iinfo(t).bits
        x, y = arr([-16, 16, -1, -7, 1, 5], t), arr([2, bits + 3, bits - 1, -1, bits - 1, 0], t)
        for d in ["LEFT", "RIGHT"]:
            s.case(f"BitShift_{t.__name__}_{d.lower()}_opset28", "BitShift", 28, [x, y], {"direction": d})
    for t in [np.int8, np.int64, np.uint16, np.uint64]:
        info = np.iinfo(t)
        a, b = arr([[info.min, info.max, 0x5a], [1, 2, 3]], t), arr([0x0f, info.max, 0x33], t)
        for op in ["BitwiseAnd", "BitwiseOr", "BitwiseXor"]:
            s.case(f"{op}_{t.__name__}_bcast", op, 18, [a, b])
        s.case(f"BitwiseNot_{t.__name__}", "BitwiseNot", 18, [a])

    # -- PRelu: the slope broadcasts to X --
    s.case("PRelu_per_channel", "PRelu", 16, [rnd((2, 3, 2, 2)), rnd((3, 1, 1), lo=0, hi=1)])
    s.case("PRelu_one_slope", "PRelu", 9, [rnd((2, 3)), arr([0.25], F32)])
    s.case("PRelu_int32", "PRelu", 16, [arr([-5, -1, 0, 1, 5], np.int32), arr([2], np.int32)])
    s.case("PRelu_f16", "PRelu", 16, [rnd((2, 3), F16), rnd((3,), F16, 0, 1)])
