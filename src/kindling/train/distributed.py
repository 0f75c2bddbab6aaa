"""DDP through torchrun, or srun without it (kindling.train.slurm): gloo on CPU, NCCL on GPU. Only rank 0
logs and writes."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kindling.train.slurm import torchrun_env


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def adopt_slurm_env() -> None:
    """Under srun without torchrun: SLURM's rank, local rank, world size and first node as the variables
    torchrun sets (torchrun's own win; nothing changes outside Slurm)."""

    os.environ.update(torchrun_env(os.environ))


def init_from_env(device) -> DistInfo:
    """Join the process group torchrun (or srun) describes in the environment; a no-op for one process."""
    adopt_slurm_env()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist  # lazy: torch

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def wrap(model, info: DistInfo, device):
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel  # lazy: torch

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist  # lazy: torch

        dist.barrier()


def any_flag(flag: bool, info: DistInfo) -> bool:
    """True on every rank when any rank raised the flag (a signal arrived, a loss went non-finite)."""
    if not info.enabled:
        return flag
    import torch  # lazy: torch
    import torch.distributed as dist  # lazy: torch

    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t)
    return bool(t.item() > 0)


def shutdown(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist  # lazy: torch

        if dist.is_initialized():
            dist.destroy_process_group()
