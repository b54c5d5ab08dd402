"""One training process among several (``torchrun``) or alone: ranks, device, and what they share.

Under ``torchrun --nproc_per_node N -m models.train ...`` every process reads its rank from the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), trains on ``cuda:LOCAL_RANK`` and joins one
process group (NCCL on CUDA, Gloo on the CPU). The generator is wrapped in DistributedDataParallel,
critic gradients are averaged by hand (the gradient penalty needs a double backward), a stop asked
for on one rank stops all of them, and rank 0 alone logs, validates and writes files. On one
process every function here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes, and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, validates and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one training process."""
        return self.world > 1


def setup_processes(device: str | torch.device | None = None) -> Processes:
    """Read the rank from the environment, pick the device and join the process group.

    Args:
        device: the training device; None picks ``cuda:LOCAL_RANK`` when CUDA is available, else
            the CPU. Under ``torchrun`` a CUDA device is always the local rank's.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if world > 1:
        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick the fastest kernels
    return Processes(rank, world, local_rank, dev)


def wrap_generator(generator: nn.Module, procs: Processes) -> nn.Module:
    """``generator`` in DistributedDataParallel on several processes, else itself."""
    if not procs.distributed:
        return generator
    ids = [procs.device.index] if procs.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(generator, device_ids=ids)


def average_gradients(module: nn.Module, world: int) -> None:
    """Replace every gradient of ``module`` by its mean over the ``world`` processes."""
    if world <= 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def stop_everywhere(stop: bool, procs: Processes) -> bool:
    """True on every process when ``stop`` is true on any (the shared stop flag)."""
    if not procs.distributed:
        return stop
    flag = torch.tensor([float(stop)], device=procs.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def gather_objects(obj: Any, procs: Processes) -> list[Any]:
    """``obj`` of every process, by rank (``[obj]`` on one process)."""
    if not procs.distributed:
        return [obj]
    gathered: list[Any] = [None] * procs.world
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(procs: Processes) -> None:
    """Wait for every process (nothing to wait for on one)."""
    if procs.distributed:
        dist.barrier()
