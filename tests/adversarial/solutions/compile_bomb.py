# Resource: C++ whose template instantiation grows exponentially (2**40 distinct types), so the
# compiler runs for ever and eats memory. The extension name carries a marker to find leftover compilers.
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = """
#include <torch/extension.h>
#include <utility>
// Every path down the recursion makes a new type, so nothing is shared: 2**N instantiations.
template <class T, int N> struct Bomb {
    static constexpr long v = Bomb<std::pair<T, char>, N - 1>::v + Bomb<std::pair<T, int>, N - 1>::v;
};
template <class T> struct Bomb<T, 0> { static constexpr long v = 1; };
torch::Tensor add(torch::Tensor a, torch::Tensor b) { return a + b + 0 * Bomb<int, 40>::v; }
"""

ext = load_inline(name="{{MARKER}}", cpp_sources=source, functions=["add"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.add(a, b)
