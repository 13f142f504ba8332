"""Outputs of CUDA gradings handed over on the GPU, through the CUDA driver's virtual memory API.

The worker copies each output into a fresh allocation made with cuMemCreate (POSIX file descriptor
handles), exports it with cuMemExportToShareableHandle and sends the descriptor over its private unix
socket (SCM_RIGHTS), so no IPC namespace is shared and it works from a bubblewrap jail or a container. The
trusted side checks the descriptor, imports it, maps it read-write into its own address space, copies it
device to device into a tensor of its own, then unmaps, releases and closes, before it compares anything:
what is judged is the grader's copy, which no process of the candidate can reach.

Everything goes through ctypes on libcuda.so.1, the driver every CUDA PyTorch already loads, and uses the
device's primary context, the one PyTorch uses, so pointers are valid on both sides of a copy. Every
CUresult is checked. Where any of it is missing (no driver, no VMM, no POSIX handles) `unavailable()`
says why and gradings hand outputs over as files instead.
"""

from __future__ import annotations

import ctypes
import functools
import os
import stat
import threading

CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR = 0x1
CU_MEM_ALLOCATION_TYPE_PINNED = 0x1
CU_MEM_LOCATION_TYPE_DEVICE = 0x1
CU_MEM_ACCESS_FLAGS_PROT_READWRITE = 0x3
CU_MEM_ALLOC_GRANULARITY_MINIMUM = 0x0
CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED = 102
CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED = 103

CUdeviceptr = ctypes.c_uint64
CUhandle = ctypes.c_uint64  # CUmemGenericAllocationHandle


class CudaError(RuntimeError):
    """A CUDA driver call failed; the message names the call and the driver's error."""


class _Location(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("id", ctypes.c_int)]


class _AllocFlags(ctypes.Structure):
    _fields_ = [("compressionType", ctypes.c_ubyte), ("gpuDirectRDMACapable", ctypes.c_ubyte),
                ("usage", ctypes.c_ushort), ("reserved", ctypes.c_ubyte * 4)]


class _Prop(ctypes.Structure):  # CUmemAllocationProp (cuda.h, CUDA 11.x-13.x): 32 bytes
    _fields_ = [("type", ctypes.c_int), ("requestedHandleTypes", ctypes.c_int), ("location", _Location),
                ("win32HandleMetaData", ctypes.c_void_p), ("allocFlags", _AllocFlags)]


class _Access(ctypes.Structure):  # CUmemAccessDesc
    _fields_ = [("location", _Location), ("flags", ctypes.c_int)]


_SIGNATURES = {
    "cuInit": [ctypes.c_uint],
    "cuDeviceGet": [ctypes.POINTER(ctypes.c_int), ctypes.c_int],
    "cuDeviceGetAttribute": [ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_int],
    "cuDevicePrimaryCtxRetain": [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int],
    "cuCtxSetCurrent": [ctypes.c_void_p],
    "cuCtxSynchronize": [],
    "cuMemGetAllocationGranularity": [ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(_Prop), ctypes.c_int],
    "cuMemCreate": [ctypes.POINTER(CUhandle), ctypes.c_size_t, ctypes.POINTER(_Prop), ctypes.c_ulonglong],
    "cuMemRelease": [CUhandle],
    "cuMemAddressReserve": [ctypes.POINTER(CUdeviceptr), ctypes.c_size_t, ctypes.c_size_t, CUdeviceptr,
                            ctypes.c_ulonglong],
    "cuMemAddressFree": [CUdeviceptr, ctypes.c_size_t],
    "cuMemMap": [CUdeviceptr, ctypes.c_size_t, ctypes.c_size_t, CUhandle, ctypes.c_ulonglong],
    "cuMemUnmap": [CUdeviceptr, ctypes.c_size_t],
    "cuMemSetAccess": [CUdeviceptr, ctypes.c_size_t, ctypes.POINTER(_Access), ctypes.c_size_t],
    "cuMemExportToShareableHandle": [ctypes.c_void_p, CUhandle, ctypes.c_int, ctypes.c_ulonglong],
    "cuMemImportFromShareableHandle": [ctypes.POINTER(CUhandle), ctypes.c_void_p, ctypes.c_int],
    "cuMemGetAllocationPropertiesFromHandle": [ctypes.POINTER(_Prop), CUhandle],
    "cuMemcpyDtoD_v2": [CUdeviceptr, CUdeviceptr, ctypes.c_size_t],
    "cuGetErrorName": [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)],
}


@functools.cache
def _driver() -> ctypes.CDLL:
    lib = ctypes.CDLL("libcuda.so.1")
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = ctypes.c_int
    return lib


def _call(name: str, *args) -> None:
    lib = _driver()
    res = getattr(lib, name)(*args)
    if res != 0:
        text = ctypes.c_char_p()
        lib.cuGetErrorName(res, ctypes.byref(text))
        raise CudaError(f"{name} failed: {(text.value or b'?').decode()} ({res})")


_lock = threading.Lock()
_contexts: dict[int, tuple[ctypes.c_void_p, ctypes.c_int]] = {}


def _use_device(ordinal: int) -> ctypes.c_int:
    """Make the device's primary context (PyTorch's) current in this thread, retaining it once per process."""
    with _lock:
        if ordinal not in _contexts:
            _call("cuInit", 0)
            dev, ctx = ctypes.c_int(), ctypes.c_void_p()
            _call("cuDeviceGet", ctypes.byref(dev), ordinal)
            _call("cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev)
            _contexts[ordinal] = (ctx, dev)
        ctx, dev = _contexts[ordinal]
    _call("cuCtxSetCurrent", ctx)
    return dev


def _prop(ordinal: int) -> _Prop:
    prop = _Prop()
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED
    prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE
    prop.location.id = ordinal
    return prop


def _access(ordinal: int) -> _Access:
    desc = _Access()
    desc.location.type = CU_MEM_LOCATION_TYPE_DEVICE
    desc.location.id = ordinal
    desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE
    return desc


@functools.cache
def granularity(ordinal: int = 0) -> int:
    _use_device(ordinal)
    g = ctypes.c_size_t()
    _call("cuMemGetAllocationGranularity", ctypes.byref(g), ctypes.byref(_prop(ordinal)),
          CU_MEM_ALLOC_GRANULARITY_MINIMUM)
    if g.value <= 0 or g.value & (g.value - 1):
        raise CudaError(f"allocation granularity {g.value} is not a power of two")
    return g.value


def padded(nbytes: int, ordinal: int = 0) -> int:
    """Bytes of the allocation that holds `nbytes`: at least one granule, a whole number of them."""
    g = granularity(ordinal)
    return max(g, -(-nbytes // g) * g)


class _Mapping:
    """An allocation handle mapped at a reserved range of this process, read-write for `ordinal`.

    Owns the handle from construction on: releases it on close(), and on a failure to map."""

    def __init__(self, handle: CUhandle, size: int, ordinal: int):
        self.handle: ctypes.c_uint64 | None = handle
        self.size, self.ptr = size, CUdeviceptr(0)
        self._reserved = self._mapped = False
        try:
            _call("cuMemAddressReserve", ctypes.byref(self.ptr), size, granularity(ordinal), CUdeviceptr(0), 0)
            self._reserved = True
            _call("cuMemMap", self.ptr, size, 0, handle, 0)
            self._mapped = True
            _call("cuMemSetAccess", self.ptr, size, ctypes.byref(_access(ordinal)), 1)
        except CudaError:
            self.close()
            raise

    def close(self) -> None:
        """Unmap, free the range and release the handle; the first failure is raised after all were tried."""
        errors = []
        for done, name, args in ((self._mapped, "cuMemUnmap", (self.ptr, self.size)),
                                 (self._reserved, "cuMemAddressFree", (self.ptr, self.size)),
                                 (self.handle is not None, "cuMemRelease", (self.handle,))):
            if done:
                try:
                    _call(name, *args)
                except CudaError as e:
                    errors.append(e)
        self._mapped = self._reserved = False
        self.handle = None
        if errors:
            raise errors[0]


class Exporter:
    """Worker side: copies of outputs in exportable allocations, kept alive until `release()`.

    The worker calls `release()` when the engine's next command arrives: the engine sends nothing before it
    has copied every output of the last reply, so an export is never freed under the engine's copy, and
    PyTorch's allocator never owns (so never reuses) an exported buffer."""

    def __init__(self, ordinal: int = 0):
        self.ordinal = ordinal
        self._live: list[_Mapping] = []
        _use_device(ordinal)
        reason = unavailable(ordinal, probe=False)
        if reason:
            raise CudaError(reason)

    def export(self, tensor) -> int:
        """A descriptor of a new allocation holding `tensor`'s bytes; the caller sends then closes it."""
        import torch

        t = tensor.detach()
        if t.device.type != "cuda":
            t = t.to("cuda")
        t = t.contiguous()
        nbytes = t.numel() * t.element_size()
        _use_device(self.ordinal)
        handle = CUhandle()
        _call("cuMemCreate", ctypes.byref(handle), padded(nbytes, self.ordinal), ctypes.byref(_prop(self.ordinal)), 0)
        mapping = _Mapping(handle, padded(nbytes, self.ordinal), self.ordinal)
        self._live.append(mapping)
        torch.cuda.synchronize()  # the output is complete on every stream before the driver copies it
        if nbytes:
            _call("cuMemcpyDtoD_v2", mapping.ptr, CUdeviceptr(t.data_ptr()), nbytes)
        _call("cuCtxSynchronize")
        fd = ctypes.c_int(-1)
        _call("cuMemExportToShareableHandle", ctypes.byref(fd), handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0)
        return fd.value

    def release(self) -> None:
        live, self._live = self._live, []
        if live:
            _use_device(self.ordinal)
        for m in live:
            m.close()


def _fd_kind(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return stat.S_IFMT(st.st_mode), os.major(st.st_rdev) if stat.S_ISCHR(st.st_mode) else -1


@functools.cache
def _handle_kind(ordinal: int) -> tuple[int, int]:
    """What an honest export's descriptor is on this machine (file type, device major), learnt by exporting
    one granule here, so incoming descriptors are checked against the driver in use, not a guess of it."""
    _use_device(ordinal)
    handle = CUhandle()
    _call("cuMemCreate", ctypes.byref(handle), granularity(ordinal), ctypes.byref(_prop(ordinal)), 0)
    try:
        fd = ctypes.c_int(-1)
        _call("cuMemExportToShareableHandle", ctypes.byref(fd), handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0)
        try:
            return _fd_kind(fd.value)
        finally:
            os.close(fd.value)
    finally:
        _call("cuMemRelease", handle)


def check_fd(fd: int, ordinal: int = 0) -> None:
    """Refuse a descriptor that is not what this driver's exports are (a pipe, a file, a socket, ...),
    before the driver ever sees it."""
    kind = _fd_kind(fd)
    if kind != _handle_kind(ordinal):
        raise CudaError(f"descriptor is a {_kind_name(kind[0])}, not a CUDA memory handle")


def _kind_name(fmt: int) -> str:
    return {stat.S_IFIFO: "pipe", stat.S_IFREG: "regular file", stat.S_IFSOCK: "socket", stat.S_IFDIR: "directory",
            stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFLNK: "link"}.get(fmt, "thing")


def import_copy(fd: int, nbytes: int, ordinal: int = 0):
    """Trusted side: the bytes behind an exported handle, as a uint8 CUDA tensor this process owns.

    `fd` is checked first; the imported allocation must be device memory of `ordinal` and hold at least
    `nbytes` (the mapping of `padded(nbytes)` fails otherwise). Raises CudaError on anything wrong; `fd`
    stays open (the caller closes it)."""
    import torch

    check_fd(fd, ordinal)
    _use_device(ordinal)
    handle = CUhandle()
    _call("cuMemImportFromShareableHandle", ctypes.byref(handle), ctypes.c_void_p(fd),
          CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
    try:
        prop = _Prop()
        _call("cuMemGetAllocationPropertiesFromHandle", ctypes.byref(prop), handle)
        if (prop.type, prop.location.type, prop.location.id) != (CU_MEM_ALLOCATION_TYPE_PINNED,
                                                                  CU_MEM_LOCATION_TYPE_DEVICE, ordinal):
            raise CudaError(f"handle is not device memory of GPU {ordinal} (type {prop.type}, "
                            f"location {prop.location.type}:{prop.location.id})")
    except CudaError:
        _call("cuMemRelease", handle)
        raise
    mapping = _Mapping(handle, padded(nbytes, ordinal), ordinal)
    try:
        out = torch.empty(nbytes, dtype=torch.uint8, device=f"cuda:{ordinal}")
        torch.cuda.synchronize(ordinal)  # torch's allocation is settled before the driver writes into it
        if nbytes:
            _call("cuMemcpyDtoD_v2", CUdeviceptr(out.data_ptr()), mapping.ptr, nbytes)
        _call("cuCtxSynchronize")
        return out
    finally:
        mapping.close()


def unavailable(ordinal: int = 0, probe: bool = True) -> str | None:
    """None when outputs can be handed over on the GPU here, else why not (one line).

    `probe` also exports one granule, which learns what honest handles look like (see check_fd)."""
    try:
        dev = _use_device(ordinal)
        for attr, what in ((CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, "virtual memory management"),
                           (CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, "POSIX fd handles")):
            v = ctypes.c_int()
            _call("cuDeviceGetAttribute", ctypes.byref(v), attr, dev)
            if not v.value:
                return f"GPU {ordinal} does not support {what}"
        granularity(ordinal)
        if probe:
            _handle_kind(ordinal)
    except (OSError, AttributeError, CudaError) as e:  # OSError: no libcuda.so.1; AttributeError: old driver
        return f"CUDA memory sharing unavailable: {e}"
    return None
