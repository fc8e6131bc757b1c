"""Checkpoints written in the background, atomically.

``save`` copies every tensor of the state on the caller's thread (cheap next to a training step), then
a worker thread writes ``checkpoints/step-000100.tmp/state.pt``, fsyncs it, renames the directory to
``step-000100`` and replaces the ``latest`` pointer with ``os.replace``.  A reader therefore sees the
previous checkpoint or the new one, never half of one; older checkpoints beyond ``keep`` are removed.
States hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "state.pt"
log = logging.getLogger(__name__)


def snapshot(value: Any) -> Any:
    """A copy of a nested state in which every tensor is detached, on the CPU and not shared."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(snapshot(v) for v in value)
    return value


def _complete(checkpoint: Path) -> bool:
    state = checkpoint / STATE_FILE
    try:
        return state.is_file() and state.stat().st_size > 0 and zipfile.is_zipfile(state)
    except OSError:
        return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpointer:
    """Writes ``state`` dicts under ``RUN_DIR/checkpoints`` on one background thread."""

    def __init__(self, run_dir: str | Path, keep: int = 2) -> None:
        self.dir = Path(run_dir) / "checkpoints"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chil-checkpoint")
        self._pending: list[Future[Path]] = []

    def save(self, step: int, state: dict[str, Any]) -> Future[Path]:
        """Snapshot ``state`` now and write it in the background; returns the write's future."""
        frozen = snapshot(state)
        future = self._pool.submit(self._write, step, frozen)
        self._pending = [f for f in self._pending if not f.done()] + [future]
        return future

    def _write(self, step: int, state: dict[str, Any]) -> Path:
        final = self.dir / f"step-{step:07d}"
        tmp = self.dir / f"step-{step:07d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        torch.save(state, tmp / STATE_FILE)
        _fsync(tmp / STATE_FILE)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        pointer = self.dir / "latest.tmp"
        pointer.write_text(final.name, encoding="utf-8")
        os.replace(pointer, self.dir / "latest")
        _fsync(self.dir)
        for old in sorted(p for p in self.dir.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def wait(self) -> None:
        """Block until every queued write is on disk; re-raise a write's error."""
        for future in self._pending:
            future.result()
        self._pending = []

    def close(self) -> None:
        self.wait()
        self._pool.shutdown()

    def latest(self) -> Path | None:
        """The newest complete checkpoint directory, or None.

        The ``latest`` pointer is trusted only when it names a readable checkpoint; otherwise (a
        pointer or state file left empty or truncated by a kill, a directory half removed) the newest
        complete one is used.  A state file is complete when it is a whole zip archive (what
        ``torch.save`` writes): its central directory, written last, is there."""
        pointer = self.dir / "latest"
        try:
            name = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
        except OSError:
            name = ""
        if name and not name.endswith(".tmp") and _complete(self.dir / name):
            return self.dir / name
        done = sorted(p for p in self.dir.glob("step-*") if not p.name.endswith(".tmp") and _complete(p))
        if name and done:
            log.warning("checkpoint pointer %s names %r, which is missing or incomplete; using %s", pointer, name, done[-1])
        return done[-1] if done else None

    @staticmethod
    def load(path: str | Path) -> dict[str, Any]:
        return torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)
