"""Shared set-up for the core/ tests: real speaker data loaded once per process, tiny model and
training configs, and a fixture that keeps torch on one CPU thread (the tiny tensors here gain
nothing from a second thread, and on a busy 2-core machine the threads fight: ~10x slower)."""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
from pathlib import Path

import pytest
import torch

from core.config import ModelConfig, TrainConfig
from core.text.dataset import TrainingData, prepare

ROOT = Path(__file__).resolve().parent.parent
OBAMA, TRUMP, BIDEN = "Barack Obama", "Donald J. Trump", "Joseph R. Biden Jr."
SHIPPED = {OBAMA: "barack-obama-gpt-tiny", TRUMP: "donald-j-trump-gpt-tiny", BIDEN: "joseph-r-biden-jr-gpt-tiny"}


def copy_shipped(dst: Path, names: tuple[str, ...] | None = None) -> Path:
    """The shipped runs (their record, best weights and stored probes, as a fresh clone holds them)
    copied into dst: full-size speaker models for page tests, without training any (the catalog never
    takes a toy model for a speaker's), in a folder the tests may write into."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in names or SHIPPED.values():
        (dst / name).mkdir()
        for f in ("meta.json", "model.pt", "probes.json"):  # probes.json: what the pages read off it, stored
            if (ROOT / "checkpoints" / name / f).exists():
                shutil.copy2(ROOT / "checkpoints" / name / f, dst / name / f)
    return dst


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Autouse in every module that imports it; module-scoped autouse runs before the module's
    other module-scoped fixtures (which may train)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.cache
def speaker_data(name: str = OBAMA) -> TrainingData:
    """prepare([name]) once per process (the vocabulary spans the default three speakers).
    Callers must not modify the tensors."""
    return prepare([name])


def tiny_gpt(vocab_size: int, **overrides) -> ModelConfig:
    kw = {"model_type": "gpt", "vocab_size": vocab_size, "block_size": 16, "n_layer": 2, "n_head": 2,
          "n_embd": 32, "dropout": 0.0}
    return ModelConfig(**{**kw, **overrides})


def tiny_train(**overrides) -> TrainConfig:
    kw = {"batch_size": 8, "max_iters": 20, "learning_rate": 3e-3, "min_lr": 3e-4, "warmup_iters": 2,
          "eval_interval": 5, "eval_iters": 2, "log_interval": 1, "seed": 7, "device": "cpu",
          "dtype": "auto"}  # auto: $PODIUM_DTYPE (float32 or bfloat16) when set, else the CPU's
    return TrainConfig(**{**kw, **overrides})


def spread_weights(model: torch.nn.Module, std: float = 0.3, seed: int = 0) -> torch.nn.Module:
    """Re-draw every parameter from N(0, std): at the 0.02 init the logits are all ~0 and the
    distributions ~uniform, which would let a broken attention or sampling path go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


def wait_until(predicate, timeout: float = 180, poll: float = 0.2) -> bool:
    """Poll predicate until it holds (True) or timeout seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def process_alive(pid: int | None) -> bool:
    """Is the process (not a zombie) there? For tests that watch a trainer end; the app's liveness is
    the trainer lock's (core.runs.record.trainer_alive), never a pid's."""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our finished child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return False
    return True
