// The MLP's gate activation, config.json's `hidden_act`: out = act(gate) * up.
#pragma once

namespace tern {

enum class Activation {
  kSilu,      // x * sigmoid(x) ("silu", "swish")
  kGelu,      // x * Phi(x), with erf ("gelu")
  kGeluTanh,  // GELU's tanh approximation ("gelu_pytorch_tanh", "gelu_new")
};

}  // namespace tern
