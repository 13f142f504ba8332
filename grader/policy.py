"""Static checks on a solution's source, made before anything of it runs.

Reads the AST, never imports. A solution counts as bringing its own kernel when
it builds one: a cpp_extension load/load_inline call with real source, a Triton
jit, or a CuPy/NVRTC raw kernel. Plain PyTorch ops only earn `no_custom_kernel`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel

KERNEL_BUILDERS = {"load_inline", "load", "jit", "RawKernel", "RawModule", "compile_kernel"}
KERNEL_MODULES = ("torch.utils.cpp_extension", "triton", "cupy", "cuda", "numba")


class SourceCheck(BaseModel):
    ok: bool                      # parsed and defines ModelNew
    message: str = ""             # one line when not ok
    custom_kernel: bool = False
    flags: list[str] = []


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _has_source_args(call: ast.Call) -> bool:
    """load_inline(cpp_sources=..., cuda_sources=...) with at least one non-empty source."""
    values = [kw.value for kw in call.keywords if kw.arg in ("cpp_sources", "cuda_sources", "sources")]
    values += call.args[1:3]
    for v in values:
        if isinstance(v, ast.Constant) and (v.value in ("", None) or v.value == []):
            continue
        if isinstance(v, (ast.List, ast.Tuple)) and not v.elts:
            continue
        return True
    return False


def check_solution(path: Path) -> SourceCheck:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        return SourceCheck(ok=False, message=f"{path}: cannot read solution: {e}")
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as e:
        return SourceCheck(ok=False, message=f"{path}:{e.lineno}: syntax error: {e.msg}")
    defines = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    defines |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    defines |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    if "ModelNew" not in defines:
        return SourceCheck(ok=False, message=f"{path}: defines no class ModelNew; a solution must define "
                                             "`class ModelNew(nn.Module)`")
    imports_kernel_module = any(
        (isinstance(n, ast.Import) and any(a.name.startswith(KERNEL_MODULES) for a in n.names))
        or (isinstance(n, ast.ImportFrom) and (n.module or "").startswith(KERNEL_MODULES))
        for n in ast.walk(tree))
    builds = any(isinstance(n, ast.Call) and _call_name(n) in KERNEL_BUILDERS
                 and (_call_name(n) != "load_inline" or _has_source_args(n))
                 for n in ast.walk(tree))
    triton_jit = any(isinstance(d, (ast.Attribute, ast.Name, ast.Call)) and "jit" in ast.unparse(d)
                     for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for d in n.decorator_list)
    custom = imports_kernel_module and (builds or triton_jit)
    return SourceCheck(ok=True, custom_kernel=custom, flags=[] if custom else ["no_custom_kernel"])
