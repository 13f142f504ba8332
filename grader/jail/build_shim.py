"""Inside the candidate worker: `load_inline` asks the grader for the build instead of compiling here.

The grader answers from its compile cache or builds in a fresh jailed builder (grader/judge/compile_cache.py),
then puts the library in a new folder of this worker's exchange folder, and this shim imports it from
there. A solution can bypass the shim (keep the original function, call the compiler itself): that only
costs it the cache's speed, since nothing it builds here is ever stored for anyone else.
"""

from __future__ import annotations

import os


def install(chan, exchange: str) -> None:
    from torch.utils import cpp_extension as ce

    original = ce.load_inline

    def load_inline(name, cpp_sources, cuda_sources=None, sycl_sources=None, functions=None, extra_cflags=None,
                    extra_cuda_cflags=None, extra_sycl_cflags=None, extra_ldflags=None, extra_include_paths=None,
                    build_directory=None, verbose=False, with_cuda=None, with_sycl=None, is_python_module=True,
                    with_pytorch_error_handling=True, keep_intermediates=True, use_pch=False,
                    no_implicit_headers=False):
        if sycl_sources or with_sycl or extra_sycl_cflags:  # not cached: built here, as torch would
            return original(name, cpp_sources, cuda_sources, sycl_sources, functions, extra_cflags,
                            extra_cuda_cflags, extra_sycl_cflags, extra_ldflags, extra_include_paths,
                            build_directory, verbose, with_cuda, with_sycl, is_python_module,
                            with_pytorch_error_handling, keep_intermediates, use_pch, no_implicit_headers)
        as_list = lambda v: [v] if isinstance(v, str) else list(v or [])  # noqa: E731
        request = {"name": name, "cpp_sources": as_list(cpp_sources), "cuda_sources": as_list(cuda_sources),
                   "functions": [functions] if isinstance(functions, str) else functions,
                   "extra_cflags": as_list(extra_cflags), "extra_cuda_cflags": as_list(extra_cuda_cflags),
                   "extra_ldflags": as_list(extra_ldflags), "extra_include_paths": as_list(extra_include_paths),
                   "with_cuda": with_cuda, "is_python_module": is_python_module,
                   "with_pytorch_error_handling": with_pytorch_error_handling,
                   "no_implicit_headers": no_implicit_headers}
        chan.send({"build": request})
        reply = chan.recv()
        if reply.get("built") is not True:
            raise RuntimeError(f"Error building extension '{name}': the grader did not answer the build")
        if verbose and reply.get("log"):
            print(reply["log"])
        if reply.get("ok") is not True:
            raise RuntimeError(str(reply.get("log") or f"Error building extension '{name}'"))
        return ce._import_module_from_library(name, os.path.join(exchange, reply["folder"]), is_python_module)

    ce.load_inline = load_inline
