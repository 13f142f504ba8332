# Same extension name and flags as tests/fixtures/add_pass.py, other code (a - b): if the cache were keyed
# on the name, this would load the honest binary and pass.
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = """
#include <torch/extension.h>

torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto out = torch::empty_like(a);
    const float* pa = a.data_ptr<float>();
    const float* pb = b.data_ptr<float>();
    float* po = out.data_ptr<float>();
    for (int64_t i = 0; i < a.numel(); ++i) po[i] = pa[i] - pb[i];
    return out;
}
"""

ext = load_inline(name="kg_test_add", cpp_sources=source, functions=["add"], extra_cflags=["-O2"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.add(a.contiguous(), b.contiguous())
