"""Processes: how many copies of `constlang train` a launcher (torchrun, accelerate launch)
started, which one this is, and a barrier between them; one process when none did."""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def world_size() -> int:
    """The number of processes the launcher started (WORLD_SIZE), 1 without a launcher."""
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's number among the launcher's (RANK); 0 without a launcher, even when a
    stray RANK is set in the environment of a single process."""
    return _env_int("RANK", 0) if world_size() > 1 else 0


def is_main() -> bool:
    """Whether this is the process that talks and writes the run directory."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in one process). Under a
    launcher the stage has set up the process group by now; without one the processes could
    not be kept in step, so that is an error, not a silent pass."""
    if world_size() > 1:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("several processes but no process group to synchronise them")
        dist.barrier()


def finish() -> None:
    """Close the process group a launcher's run opened (at the end of the run)."""
    if world_size() > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
