"""What makes a killed training resume as if it had never stopped, and keeps two trainings apart.

- :class:`RandomState` puts the random number generators (torch CPU and CUDA, NumPy,
  Python) in every checkpoint and restores them on resume, so dropout draws the same
  masks as in an uninterrupted run. (The data's randomness is a function of seed,
  epoch and position; see :mod:`enformer_lite.training.sampler`.)
- :class:`ResumeCheckpoint` writes the resume checkpoint every few steps, after the
  step's validation when one follows: a checkpoint taken between a step and its
  validation would make Lightning skip that validation on resume.
- :class:`CheckpointOnStop` saves the resume checkpoint when the job is told to stop,
  letting a validation under way finish first.
- :class:`AtomicCheckpointIO` writes checkpoints under a temporary name beside the
  target and renames them, so a kill mid-write never leaves a truncated ``last.ckpt``
  (Lightning's default writes to the system temporary directory, then copies).
- :func:`run_lock` allows one training per output directory at a time.
- :func:`remove_stale_temporaries` deletes what killed attempts left half-written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import random
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, Checkpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError

log = logging.getLogger(__name__)

LOCK = "train.lock"
#: Temporary names of :func:`enformer_lite.atomic.atomic_output`: ``.<name>.tmp<pid>``.
_TEMPORARY = re.compile(r"^\.(.+)\.tmp\d+$")


class RandomState(Callback):
    """Saves and restores the global random number generators with each checkpoint.

    In distributed runs every rank gets rank 0's state back; ranks are seeded alike
    (``seed_everything``), so they also start alike.
    """

    def state_dict(self) -> dict[str, Any]:
        # Tensors and plain Python values only, so that checkpoints load with ``weights_only=True``.
        _, key, pos, has_gauss, gauss = np.random.get_state()
        version, internal, gauss_next = random.getstate()
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": {"key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                      "gauss": float(gauss)},
            "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        numpy = state_dict["numpy"]
        np.random.set_state(
            ("MT19937", numpy["key"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"], numpy["gauss"])
        )
        python = state_dict["python"]
        random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
        cuda = state_dict.get("cuda")
        if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


class ResumeCheckpoint(Checkpoint):
    """Saves ``path`` every ``every_n_steps`` optimiser steps, once the step is complete.

    A step is complete after its validation, if one is due (every
    ``trainer.val_check_batch`` steps), and after the best-checkpoint callback has seen
    that validation (Lightning runs :class:`~lightning.pytorch.callbacks.Checkpoint`
    callbacks last, in list order: put this one after it).
    """

    def __init__(self, path: Path, every_n_steps: int) -> None:
        self.path = path
        self.every_n_steps = every_n_steps
        self._after_validation = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        if step % trainer.val_check_batch == 0 and trainer.limit_val_batches != 0:
            self._after_validation = True
        else:
            trainer.save_checkpoint(self.path)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._after_validation and not trainer.sanity_checking:
            self._after_validation = False
            trainer.save_checkpoint(self.path)


class CheckpointOnStop(Checkpoint):
    """Saves the resume checkpoint when the job is told to stop (SIGTERM: Snakemake on Ctrl-C, a SLURM
    time limit). Lightning stops after the current step, so the saved state is consistent.

    Lightning would also abandon a validation under way, and a checkpoint taken then resumes
    without it; so a SIGTERM that arrives during validation is held back until the validation
    has ended. A step with a validation is saved at the end of that validation, the moment
    Lightning resumes from cleanly (as :class:`ResumeCheckpoint` does); place this callback
    after the best-checkpoint callback. (In distributed runs that save waits for the stop
    itself, which all ranks reach together; a run stopped there then resumes with the
    logger's step one ahead.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held = False
        self._saved_step: int | None = None

    def on_validation_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        connector = getattr(trainer, "_signal_connector", None)
        if trainer.state.fn == "fit" and getattr(connector, "received_sigterm", False):
            connector.received_sigterm = False  # Lightning checks this flag after each validation batch
            self._held = True

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._held or trainer.received_sigterm:
            self._held = False
            trainer._signal_connector.received_sigterm = True  # Lightning stops once the step is over
            # A save is collective: with several ranks it waits for the stop that all ranks reach together.
            if not trainer.sanity_checking and trainer.world_size == 1:
                self._save(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and self._saved_step != trainer.global_step:
            self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        trainer.save_checkpoint(self.path)
        self._saved_step = trainer.global_step
        log.info("stopped by SIGTERM at step %d; saved %s", trainer.global_step, self.path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to ``.<name>.tmp<pid>`` beside the checkpoint, then an atomic rename."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        with atomic_output(path) as tmp:
            torch.save(checkpoint, tmp)


@contextlib.contextmanager
def run_lock(outdir: Path, path: Path) -> Iterator[Path]:
    """Hold an exclusive lock on the file ``path`` (created if need be) for the duration of the block.

    A second training of the same output directory ``outdir`` fails at once with an
    :class:`InputError` naming the directory and the holder's PID. The lock is a POSIX
    record lock (``lockf``): the kernel releases it when its holder exits, however it
    dies, so a lock left by a killed run never blocks the next one; unlike ``flock`` it
    is not shared with forked DataLoader workers, which may outlive a killed trainer
    for a moment. It works on NFS. Within one process it does not exclude (POSIX locks
    are per process). The file itself stays (removing it would let two processes lock
    different files of the same name).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise InputError(
                f"{outdir}: another training is running in this output directory (PID {holder}, "
                f"lock {path}); wait for it to finish, or stop it, before starting a new one"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        handle.close()  # closing the only descriptor releases the lock


def remove_stale_temporaries(directory: Path, names: Collection[str] | None = None) -> list[Path]:
    """Delete half-written ``.<name>.tmp<pid>`` files that killed attempts left in ``directory``.

    Only temporaries of ``names`` are touched (all, if None: a directory only training
    writes to). Call it while holding :func:`run_lock`: no other training can then be
    writing them. Returns the removed paths.
    """
    removed = []
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        match = _TEMPORARY.match(path.name)
        if match and (names is None or match.group(1) in names) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    for path in removed:
        log.info("removed %s, left by a killed run", path)
    return removed
