"""One place that decides where and how tensors run: device auto-detect (cuda -> mps -> cpu),
the autocast dtype, and the per-device speed switches (TF32, fused AdamW)."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from core.errors import UserError


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; anything else is checked and returned."""
    if requested in ("auto", "", None):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError as e:
        raise UserError(f"unknown device {requested!r}: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {requested!r} asked for, but this machine has no CUDA GPU")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError(f"device {requested!r} asked for, but MPS is not available here")
    return dev


def cpu_has_bf16_matmul() -> bool:
    """True where the CPU multiplies bf16 matrices natively (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


DTYPE_ENV = "PODIUM_DTYPE"  # float32 or bfloat16: what a training dtype of 'auto' means (the suite runs both)


def auto_dtype(requested: str | None) -> str:
    """'auto' as $PODIUM_DTYPE says (float32 or bfloat16), else left to the device; anything else as
    given. The switch lets the suite check that what trains in bf16 also trains in fp32, and back."""
    if requested in ("auto", "", None):
        forced = os.environ.get(DTYPE_ENV, "")
        if forced in ("float32", "bfloat16"):
            return forced
        if forced not in ("", "auto"):
            raise UserError(f"${DTYPE_ENV} must be float32, bfloat16 or auto, got {forced!r}")
        return "auto"
    return requested


def resolve_dtype(device: torch.device, requested: str = "auto") -> torch.dtype:
    """The autocast dtype. 'auto' ($PODIUM_DTYPE unset): bf16 on CUDA GPUs that support it and on
    CPUs with native bf16 matmul (measured here: ~3-6x the fp32 matmul rate, same loss; see
    docs/benchmarks.md), else float32."""
    requested = auto_dtype(requested)
    if requested == "float32":
        return torch.float32
    if requested == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_bf16_matmul() else torch.float32
    return torch.float32


def available_bytes(device: torch.device) -> int | None:
    """Memory a new job can use now: free GPU memory, or the system's MemAvailable; None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


BF16_SAMPLING_BYTES = 16 * 2**20  # fp32 weights past this outgrow a CPU's caches


def sampling_dtype(model: torch.nn.Module, requested: str = "auto") -> torch.dtype:
    """The weights' dtype to sample in. One token a step reads every weight once, so a big
    model's sampling is bound by memory: 'auto' takes bf16 where the device multiplies it natively
    and the fp32 weights pass 16 MB. Measured on a 2-core CPU: lecture preset (43 MB in fp32)
    677 tokens/s in bf16 vs 348 in fp32; tiny preset (3 MB) 3189 in fp32 vs 1691 in bf16."""
    if requested in ("float32", "bfloat16"):
        return getattr(torch, requested)
    p = next(model.parameters())
    big = sum(t.numel() for t in model.parameters()) * 4 > BF16_SAMPLING_BYTES
    native = (cpu_has_bf16_matmul() if p.device.type == "cpu"
              else p.device.type == "cuda" and torch.cuda.is_bf16_supported())
    return torch.bfloat16 if big and native else p.dtype


def autocast(device: torch.device, dtype: torch.dtype):
    """An autocast context for dtype on device, or a no-op for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def enable_fast_math(device: torch.device) -> None:
    """TF32 matmuls and cuDNN on CUDA (process-wide settings, idempotent)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity (taskset, a container's cpuset, a test
    worker's share), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS has no affinity call
        return os.cpu_count() or 1


@dataclass(frozen=True)
class DeviceInfo:
    device: str
    name: str
    threads: int
    dtype: str


def describe(device: torch.device, dtype: torch.dtype | None = None) -> DeviceInfo:
    """What a person should be told will run the job: the GPU's name, or CPU and its threads."""
    dtype = dtype or resolve_dtype(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "mps":
        name = "Apple GPU (MPS)"
    else:
        name = f"CPU ({usable_cores()} cores)"
    return DeviceInfo(str(device), name, torch.get_num_threads(), str(dtype).removeprefix("torch."))
