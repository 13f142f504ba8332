# Tries to plant or change compile-cache entries: writes into the cache folder (its path is known) and the
# default one, then swaps its own exchange folder for a link into the cache, so that the grader would copy
# the library there. Its load_inline is tests/fixtures/add_pass.py's, so the grader has that entry cached.
import os

import torch.nn as nn
from torch.utils.cpp_extension import load_inline

CACHE = "{{CACHE}}"


def attempt(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass


def overwrite(path):
    with open(path, "wb") as f:
        f.write(b"\x7fELF planted")


for root in (CACHE, os.path.expanduser("~/.cache/kernel-grader/compile")):
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            attempt(overwrite, os.path.join(dirpath, name))
    attempt(os.makedirs, os.path.join(root, "v1", "entries", "planted"))
exchange = os.environ["KG_EXCHANGE"]
attempt(os.rename, exchange, exchange + ".old")
attempt(os.symlink, os.path.join(CACHE, "v1", "entries"), exchange)

source = """
#include <torch/extension.h>

torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto out = torch::empty_like(a);
    const float* pa = a.data_ptr<float>();
    const float* pb = b.data_ptr<float>();
    float* po = out.data_ptr<float>();
    for (int64_t i = 0; i < a.numel(); ++i) po[i] = pa[i] + pb[i];
    return out;
}
"""

ext = load_inline(name="kg_test_add", cpp_sources=source, functions=["add"], extra_cflags=["-O2"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.add(a.contiguous(), b.contiguous())
