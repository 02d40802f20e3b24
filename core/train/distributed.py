"""Data-parallel training across processes, as torchrun starts them.

`torchrun --nproc_per_node=N -m core train ...` starts N copies of the trainer with RANK,
WORLD_SIZE, LOCAL_RANK (and the rendezvous) in their environment. Each process draws its own
batches (the batch seed plus its rank), DistributedDataParallel averages the gradients, eval
losses and the logged train loss are averaged across processes, and only rank 0 writes the run
folder. --batch-size is per process: the global batch is batch_size x world size.
Without those variables (a plain `python -m core train`) everything here is a no-op."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context() -> Context:
    """This process's place in a torchrun job (rank 0 of 1 outside one)."""
    return Context(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))


def setup(device: torch.device) -> Context:
    """Join the job's process group (NCCL on CUDA, gloo on the CPU); returns the context."""
    ctx = context()
    if ctx.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ctx


def device_for(ctx: Context, requested: torch.device) -> torch.device:
    """One GPU per process: cuda:LOCAL_RANK when the run asks for CUDA."""
    if ctx.enabled and requested.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return requested


def mean(value: torch.Tensor, ctx: Context) -> torch.Tensor:
    """The average of value over every process (value itself alone)."""
    if not ctx.enabled:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / ctx.world_size


def any_true(flag: bool, ctx: Context, device: torch.device) -> bool:
    """True if flag is true in any process: every rank stops at the same step."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def all_ok(ok: bool, ctx: Context, device: torch.device) -> bool:
    """True only if ok is true in every process (a check that only rank 0 can make, shared)."""
    return not any_true(not ok, ctx, device)


def gather(obj, ctx: Context) -> list:
    """obj from every process, in rank order (a list of one outside a job)."""
    if not ctx.enabled:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def from_main(fn, ctx: Context, device: torch.device):
    """fn() run on rank 0 alone, its result given to every process; a UserError it raises (a
    refusal only rank 0 can see, such as a run name that exists) is raised in every process."""
    from core.errors import UserError

    if not ctx.enabled:
        return fn()
    setup(device)
    box: list = [None]
    error = None
    if ctx.is_main:
        try:
            box = [("ok", fn())]
        except UserError as e:
            error, box = e, [("error", str(e))]
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise error or UserError(value)
    return value


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
