"""The machine a benchmark ran on, and its matrix-multiply peak in fp32 and bf16: the yardstick
for model FLOPs utilisation (MFU)."""
from __future__ import annotations

import os
import platform
import re
import time
from datetime import datetime, timezone

import torch


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


GENERATIONS = {("AuthenticAMD", "25", "17"): "Zen 4", ("AuthenticAMD", "26", "2"): "Zen 5",
               ("GenuineIntel", "6", "143"): "Sapphire Rapids, AMX",
               ("GenuineIntel", "6", "207"): "Emerald Rapids, AMX"}


def cpu_kind() -> tuple[str, str]:
    """(label, key) of this CPU's kind: its name, family and model (a hypervisor may show only "AMD
    EPYC": the numbers say which generation), e.g. ("AMD EPYC, family 25 model 17 (Zen 4)",
    "amd-epyc-25-17"). docs/benchmarks.md keeps one section per key."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = info.get("model name") or cpu_name()
    family, model = info.get("cpu family", "?"), info.get("model", "?")
    gen = GENERATIONS.get((info.get("vendor_id", ""), family, model))
    label = f"{name}, family {family} model {model}" + (f" ({gen})" if gen else "")
    key = re.sub(r"[^a-z0-9]+", "-", f"{name} {family} {model}".lower()).strip("-")
    return label, key


def describe(device: torch.device) -> dict:
    from core.device import cpu_has_bf16_matmul

    info = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_name(),
            "cores": os.cpu_count(), "threads": torch.get_num_threads(), "bf16_matmul": cpu_has_bf16_matmul(),
            "python": platform.python_version(), "torch": torch.__version__, "device": str(device)}
    info["kind"], info["kind_key"] = cpu_kind()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Best observed FLOP/s of an n x n x n matmul in dtype (the best of a few rounds)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best = 0.0
    for _ in range(3):
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - t0))
    return best


def peaks(device: torch.device) -> dict[str, float]:
    n = 8192 if device.type == "cuda" else 2048
    return {"float32": matmul_peak(torch.float32, device, n), "bfloat16": matmul_peak(torch.bfloat16, device, n)}
