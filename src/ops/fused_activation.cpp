#include "ops/fused_activation.h"

#include <limits>
#include <string>
#include <vector>

namespace kiln::ops {

kernels::ActivationParams read_fused_activation(const NodeContext& ctx, std::string_view prefix) {
  using kernels::Activation;
  struct Known {
    const char* name;
    Activation kind;
    size_t params;  // how many of alpha, beta the activation reads (the others keep their defaults)
    float alpha, beta;
  };
  constexpr float kInf = std::numeric_limits<float>::infinity();
  static const Known kKnown[] = {
      {"", Activation::kNone, 0, 0, 0},
      {"Relu", Activation::kRelu, 0, 0, 0},
      {"Clip", Activation::kClip, 2, -kInf, kInf},
      {"LeakyRelu", Activation::kLeakyRelu, 1, 0.01f, 0},
      {"Sigmoid", Activation::kSigmoid, 0, 0, 0},
      {"Tanh", Activation::kTanh, 0, 0, 0},
      {"HardSigmoid", Activation::kHardSigmoid, 2, 0.2f, 0.5f},
      {"HardSwish", Activation::kHardSwish, 0, 0, 0},
      {"Silu", Activation::kSilu, 0, 0, 0},
      {"GeluErf", Activation::kGeluErf, 0, 0, 0},
      {"GeluTanh", Activation::kGeluTanh, 0, 0, 0},
  };
  const std::string key = std::string(prefix) + "activation";
  const std::string name = ctx.attr_string(key, "");
  const std::vector<float> params = ctx.attr_floats(key + "_params", {});
  for (const Known& k : kKnown) {
    if (name != k.name) continue;
    // The contract's pair is (alpha, beta) whatever the activation: values it does not read are ignored, so
    // the passes may always write both (LeakyRelu as [alpha, 0]).
    if (params.size() > 2)
      ctx.fail("activation_params holds alpha and beta (at most 2 values), got {} for '{}'", params.size(), name);
    kernels::ActivationParams a;
    a.kind = k.kind;
    a.alpha = params.size() > 0 && k.params > 0 ? params[0] : k.alpha;
    a.beta = params.size() > 1 && k.params > 1 ? params[1] : k.beta;
    return a;
  }
  ctx.fail("activation '{}' is not one of Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Silu, "
           "GeluErf, GeluTanh (or empty)", name);
}

}  // namespace kiln::ops
