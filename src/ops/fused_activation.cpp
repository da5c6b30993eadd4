#include "ops/fused_activation.h"

#include <limits>
#include <string>
#include <vector>

namespace kiln::ops {

kernels::ActivationParams read_fused_activation(const NodeContext& ctx) {
  using kernels::Activation;
  struct Known {
    const char* name;
    Activation kind;
    size_t params;  // how many of alpha, beta the activation reads
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
  const std::string name = ctx.attr_string("activation", "");
  const std::vector<float> params = ctx.attr_floats("activation_params", {});
  for (const Known& k : kKnown) {
    if (name != k.name) continue;
    if (params.size() > k.params)
      ctx.fail("activation '{}' takes {} activation_params, got {}", name, k.params, params.size());
    kernels::ActivationParams a;
    a.kind = k.kind;
    a.alpha = params.size() > 0 ? params[0] : k.alpha;
    a.beta = params.size() > 1 ? params[1] : k.beta;
    return a;
  }
  ctx.fail("activation '{}' is not one of Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Silu, "
           "GeluErf, GeluTanh (or empty)", name);
}

}  // namespace kiln::ops
