# a + b through a load_inline extension that includes no torch header (plain Python C API on raw pointers):
# it builds in a second or two, so the compile-cache tests can grade many variants of it.
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = """
#include <Python.h>
#include <cstdint>

static PyObject* add(PyObject*, PyObject* args) {
    unsigned long long pa, pb, po;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "KKKn", &pa, &pb, &po, &n)) return nullptr;
    const float* a = reinterpret_cast<const float*>(pa);
    const float* b = reinterpret_cast<const float*>(pb);
    float* out = reinterpret_cast<float*>(po);
    for (Py_ssize_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = { {"add", add, METH_VARARGS, ""}, {nullptr, nullptr, 0, nullptr} };
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "kg_cache_light", nullptr, -1, methods};
PyMODINIT_FUNC PyInit_kg_cache_light() { return PyModule_Create(&module); }
"""

ext = load_inline(name="kg_cache_light", cpp_sources=source, no_implicit_headers=True, extra_cflags=["-O2"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        a, b = a.contiguous(), b.contiguous()
        out = torch.empty_like(a)
        ext.add(a.data_ptr(), b.data_ptr(), out.data_ptr(), a.numel())
        return out
