// Random inputs and attributes for every data-movement op: each call must either succeed or throw
// kiln::Error (never crash, never read out of bounds - run under the debug preset's ASan/UBSan, never throw
// anything else). Sizes stay small so the run is quick; indices, axes and pads often fall out of range.

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "tensor_op_test_util.h"

namespace kiln::testing {
namespace {

class Fuzz {
 public:
  explicit Fuzz(uint32_t seed) : rng_(seed) {}

  int64_t range(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool chance(int percent) { return range(0, 99) < percent; }

  std::vector<int64_t> dims(int64_t max_rank = 3, int64_t max_dim = 3) {
    std::vector<int64_t> d(static_cast<size_t>(range(0, max_rank)));
    for (int64_t& v : d) v = range(0, max_dim);
    return d;
  }

  // An int list, mostly small values, sometimes the extremes exporters write.
  std::vector<int64_t> list(int64_t max_len, int64_t lo, int64_t hi) {
    std::vector<int64_t> v(static_cast<size_t>(range(0, max_len)));
    for (int64_t& x : v) {
      int64_t pick = range(0, 19);
      x = pick == 0 ? INT64_MAX : pick == 1 ? INT64_MIN : range(lo, hi);
    }
    return v;
  }

  Tensor int_tensor(std::vector<int64_t> d, int64_t lo, int64_t hi) {
    Tensor t(chance(80) ? DType::kInt64 : DType::kInt32, d);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (t.dtype() == DType::kInt64) t.data<int64_t>()[i] = range(lo, hi);
      else t.data<int32_t>()[i] = static_cast<int32_t>(range(lo, hi));
    }
    return t;
  }
  Tensor int_list(int64_t max_len, int64_t lo, int64_t hi) {
    std::vector<int64_t> v = list(max_len, lo, hi);
    if (chance(10)) return int_tensor({static_cast<int64_t>(v.size())}, lo, hi);  // int32 sometimes
    return i64(v);
  }

  DType type() {
    static const DType kTypes[] = {DType::kFloat32, DType::kInt64, DType::kString, DType::kBool, DType::kFloat16,
                                   DType::kUInt8};
    return kTypes[range(0, 5)];
  }

  // Dims no larger than `of` (same rank): valid index shapes for GatherElements/ScatterElements.
  std::vector<int64_t> within(const std::vector<int64_t>& of) {
    std::vector<int64_t> d = of;
    for (int64_t& v : d) v = range(0, v);
    return d;
  }

  Tensor data(std::vector<int64_t> d) { return data(std::move(d), type()); }
  Tensor data(std::vector<int64_t> d, DType t) {
    Tensor x(t, std::move(d));
    if (t == DType::kString) {
      for (int64_t i = 0; i < x.numel(); ++i) x.data<std::string>()[i] = std::string(static_cast<size_t>(range(0, 3)), 'a');
    } else {
      visit_numeric_or_bool(t, [&]<typename T>() {
        for (int64_t i = 0; i < x.numel(); ++i) {
          if constexpr (std::is_same_v<T, bool>) x.data<T>()[i] = chance(50);
          else x.data<T>()[i] = T(static_cast<float>(range(0, 3)));
        }
      });
    }
    return x;
  }
  Tensor data() { return data(dims()); }

 private:
  std::mt19937 rng_;
};

struct Call {
  std::string op;
  int opset;
  std::vector<ir::Attribute> attrs;
  std::vector<Tensor> inputs;
  size_t outputs = 1;
};

using Generator = std::function<Call(Fuzz&)>;

std::vector<std::pair<std::string, Generator>> generators() {
  auto axis = [](Fuzz& f) { return attr_int("axis", f.range(-4, 4)); };
  return {
      {"Reshape", [](Fuzz& f) {
         return Call{"Reshape", 14, {attr_int("allowzero", f.range(0, 1))}, {f.data(), f.int_list(4, -2, 4)}};
       }},
      {"Flatten", [&](Fuzz& f) { return Call{"Flatten", 13, {axis(f)}, {f.data()}}; }},
      {"Squeeze", [](Fuzz& f) { return Call{"Squeeze", 13, {}, {f.data(), f.chance(30) ? Tensor() : f.int_list(3, -4, 4)}}; }},
      {"Unsqueeze", [](Fuzz& f) { return Call{"Unsqueeze", 13, {}, {f.data(), f.int_list(3, -5, 5)}}; }},
      {"UnsqueezeAttr", [](Fuzz& f) { return Call{"Unsqueeze", 11, {attr_ints("axes", f.list(3, -5, 5))}, {f.data()}}; }},
      {"Transpose", [](Fuzz& f) {
         std::vector<ir::Attribute> a;
         if (f.chance(70)) a.push_back(attr_ints("perm", f.list(3, -1, 3)));
         return Call{"Transpose", 13, a, {f.data()}};
       }},
      {"Concat", [&](Fuzz& f) {
         Tensor x = f.data();
         std::vector<Tensor> in = {x};
         for (int64_t k = f.range(0, 2); k > 0; --k) in.push_back(f.chance(60) ? x : f.data());
         return Call{"Concat", 13, {axis(f)}, in};
       }},
      {"Split", [&](Fuzz& f) {
         size_t outs = static_cast<size_t>(f.range(1, 3));
         if (f.chance(50)) return Call{"Split", 18, {axis(f), attr_int("num_outputs", f.range(1, 3))}, {f.data()}, outs};
         return Call{"Split", 13, {axis(f)}, {f.data(), f.chance(50) ? Tensor() : f.int_list(3, -1, 3)}, outs};
       }},
      {"Slice", [](Fuzz& f) {
         int64_t n = f.range(0, 3);
         auto lst = [&](int64_t lo, int64_t hi) {
           std::vector<int64_t> v = f.list(n, lo, hi);
           v.resize(static_cast<size_t>(f.chance(90) ? n : n + 1), 1);
           return i64(v);
         };
         return Call{"Slice", 13, {}, {f.data(), lst(-5, 5), lst(-5, 5), f.chance(30) ? Tensor() : lst(-4, 4),
                                       f.chance(30) ? Tensor() : lst(-3, 3)}};
       }},
      {"Gather", [&](Fuzz& f) { return Call{"Gather", 13, {axis(f)}, {f.data(), f.int_tensor(f.dims(2), -4, 4)}}; }},
      {"GatherElements", [&](Fuzz& f) {
         Tensor x = f.data();
         return Call{"GatherElements", 13, {axis(f)},
                     {x, f.int_tensor(f.chance(80) ? f.within(x.dims()) : f.dims(), -4, 4)}};
       }},
      {"GatherND", [](Fuzz& f) {
         Tensor x = f.data(f.dims(3));
         const auto r = static_cast<int64_t>(x.rank());
         const int64_t b = f.range(0, std::max<int64_t>(0, r - 2));
         std::vector<int64_t> d(x.dims().begin(), x.dims().begin() + std::min(b, r));
         for (int64_t k = f.range(0, 1); k > 0; --k) d.push_back(f.range(0, 2));
         d.push_back(f.range(f.chance(90) ? 1 : 0, std::max<int64_t>(1, r - b)));
         return Call{"GatherND", 13, {attr_int("batch_dims", f.chance(90) ? b : f.range(-1, 3))},
                     {x, f.int_tensor(d, -3, 3)}};
       }},
      {"ScatterND", [](Fuzz& f) {
         static const char* kRed[] = {"none", "add", "mul", "max", "min"};
         Tensor x = f.data();
         const auto r = static_cast<int64_t>(x.rank());
         const int64_t m = f.range(1, std::max<int64_t>(1, r)), k = f.range(0, 2);
         std::vector<int64_t> ud = {k};
         if (m <= r) ud.insert(ud.end(), x.dims().begin() + m, x.dims().end());
         Tensor u = f.chance(85) ? f.data(ud, x.dtype()) : f.data();
         return Call{"ScatterND", 18, {attr_string("reduction", kRed[f.range(0, 4)])}, {x, f.int_tensor({k, m}, -3, 3), u}};
       }},
      {"ScatterElements", [&](Fuzz& f) {
         static const char* kRed[] = {"none", "add", "mul", "max", "min"};
         Tensor x = f.data();
         Tensor idx = f.int_tensor(f.chance(80) ? f.within(x.dims()) : f.dims(), -4, 4);
         Tensor u = f.chance(85) ? f.data(idx.dims(), x.dtype()) : f.data();
         return Call{"ScatterElements", 18, {axis(f), attr_string("reduction", kRed[f.range(0, 4)])}, {x, idx, u}};
       }},
      {"Shape", [](Fuzz& f) {
         return Call{"Shape", 15, {attr_int("start", f.range(-5, 5)), attr_int("end", f.range(-5, 5))}, {f.data()}};
       }},
      {"ConstantOfShape", [](Fuzz& f) { return Call{"ConstantOfShape", 9, {}, {f.int_list(3, -1, 3)}}; }},
      {"Range", [](Fuzz& f) {
         if (f.chance(50))
           return Call{"Range", 11, {}, {Tensor::scalar<int64_t>(f.range(-5, 5)), Tensor::scalar<int64_t>(f.range(-5, 5)),
                                         Tensor::scalar<int64_t>(f.range(-3, 3))}};
         return Call{"Range", 11, {}, {Tensor::scalar<float>(static_cast<float>(f.range(-5, 5)) / 2),
                                       Tensor::scalar<float>(static_cast<float>(f.range(-5, 5))),
                                       Tensor::scalar<float>(static_cast<float>(f.range(-3, 3)) / 4)}};
       }},
      {"EyeLike", [](Fuzz& f) { return Call{"EyeLike", 9, {attr_int("k", f.range(-4, 4))}, {f.data()}}; }},
      {"Expand", [](Fuzz& f) { return Call{"Expand", 13, {}, {f.data(), f.int_list(4, -1, 3)}}; }},
      {"Tile", [](Fuzz& f) { return Call{"Tile", 13, {}, {f.data(), f.int_list(3, -1, 3)}}; }},
      {"Pad", [](Fuzz& f) {
         static const char* kModes[] = {"constant", "reflect", "edge", "wrap"};
         Tensor x = f.data();
         return Call{"Pad", 19, {attr_string("mode", kModes[f.range(0, 3)])},
                     {x, f.int_list(6, -3, 5), Tensor(), f.chance(30) ? f.int_list(3, -3, 3) : Tensor()}};
       }},
      {"DepthToSpace", [](Fuzz& f) {
         return Call{"DepthToSpace", 13, {attr_int("blocksize", f.range(0, 3)), attr_string("mode", f.chance(50) ? "CRD" : "DCR")},
                     {f.data(f.dims(4, 8))}};
       }},
      {"SpaceToDepth", [](Fuzz& f) {
         return Call{"SpaceToDepth", 13, {attr_int("blocksize", f.range(0, 3))}, {f.data(f.dims(4, 6))}};
       }},
      {"Trilu", [](Fuzz& f) {
         return Call{"Trilu", 14, {attr_int("upper", f.range(0, 1))},
                     {f.data(), f.chance(50) ? Tensor() : Tensor::scalar<int64_t>(f.range(-4, 4))}};
       }},
      {"NonZero", [](Fuzz& f) { return Call{"NonZero", 13, {}, {f.data()}}; }},
      {"Unique", [](Fuzz& f) {
         std::vector<ir::Attribute> a = {attr_int("sorted", f.range(0, 1))};
         if (f.chance(50)) a.push_back(attr_int("axis", f.range(-3, 3)));
         return Call{"Unique", 11, a, {f.data()}, 4};
       }},
      {"OneHot", [&](Fuzz& f) {
         return Call{"OneHot", 11, {axis(f)}, {f.int_tensor(f.dims(2), -5, 5), Tensor::scalar<int64_t>(f.range(-1, 4)),
                                                f.data({f.range(1, 3)})}};
       }},
      {"Compress", [](Fuzz& f) {
         std::vector<ir::Attribute> a;
         if (f.chance(60)) a.push_back(attr_int("axis", f.range(-3, 3)));
         Tensor c(DType::kBool, {f.range(0, 5)});
         for (int64_t i = 0; i < c.numel(); ++i) c.data<bool>()[i] = f.chance(50);
         return Call{"Compress", 11, a, {f.data(), c}};
       }},
      {"ReverseSequence", [](Fuzz& f) {
         const int64_t t = f.range(0, 1);
         std::vector<int64_t> d = {f.range(0, 3), f.range(0, 3)};
         if (f.chance(40)) d.push_back(f.range(0, 2));
         if (f.chance(5)) d.resize(1);
         Tensor lens = d.size() > 1 && f.chance(85) ? f.int_tensor({d[static_cast<size_t>(1 - t)]}, f.chance(90) ? 0 : -1, d[static_cast<size_t>(t)] + (f.chance(90) ? 0 : 1))
                                                    : f.int_list(3, -1, 4);
         return Call{"ReverseSequence", 10, {attr_int("time_axis", t), attr_int("batch_axis", f.chance(95) ? 1 - t : t)},
                     {f.data(d), lens}};
       }},
      {"CenterCropPad", [](Fuzz& f) {
         std::vector<ir::Attribute> a;
         if (f.chance(50)) a.push_back(attr_ints("axes", f.list(2, -3, 3)));
         return Call{"CenterCropPad", 18, a, {f.data(), f.int_list(3, -1, 5)}};
       }},
  };
}

TEST(TensorOpsRobustness, RandomCallsSucceedOrRaiseKilnErrors) {
  for (const auto& [name, gen] : generators()) {
    Fuzz f(12345);
    int ok = 0;
    for (int iter = 0; iter < 400; ++iter) {
      Call c = gen(f);
      try {
        run_op(c.op, c.opset, c.attrs, c.inputs, c.outputs);
        ++ok;
      } catch (const Error&) {
        // a clear refusal is fine
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " iteration " << iter << " threw a non-kiln exception: " << e.what();
      }
    }
    // The generators are meant to hit valid calls too, or the kernels go untested.
    EXPECT_GT(ok, 20) << name << " succeeded only " << ok << " times in 400";
  }
}

}  // namespace
}  // namespace kiln::testing
