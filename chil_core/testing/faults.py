"""Fault injection through a real backend: :class:`FaultySmt` wraps an ``smt`` backend (Z3 by default)
and, for a share ``rate`` of its calls, raises, hangs, crashes its worker process or answers slowly;
every other call is answered by the real backend.

```python
pm.add_plugin(faults_plugin(), "faults")              # registers smt:faulty
cfg = {"frameworks": {"consistency": {"tools": {"smt": "faulty"}}},
       "tools": {"faulty": {"wrap": "chil_plugin_z3.smt:Z3Smt", "rate": 0.01, "ledger": "faults.log"}},
       "scheduler": {"backends": {"faulty": {"timeout_s": 2}}}}
```

Each injected fault is first appended to ``ledger`` (one line: kind and the call's digest), so a test
can account for every one: a ``raise`` becomes an ``error`` result, a ``crash`` (``os._exit`` in the
worker) an ``error`` ("worker crashed"), a ``hang`` a ``timeout`` (the worker is killed), a ``slow`` call
an ordinary answer.  The backend runs process-isolated (a crash must only take its worker).
"""

from __future__ import annotations

import os
import random
import time
import types
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult

FaultKind = Literal["raise", "hang", "crash", "slow"]


class FaultOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wrap: str = Field(default="chil_plugin_z3.smt:Z3Smt", description="module:Class of the real backend.")
    options: dict[str, Any] = Field(default_factory=dict, description="Options of the real backend.")
    rate: float = Field(default=0.01, ge=0.0, le=1.0)
    kinds: list[FaultKind] = Field(default_factory=lambda: ["raise", "hang", "crash", "slow"])
    seed: int = 0
    hang_s: float = Field(default=3600.0, description="A hang sleeps this long (the scheduler's timeout ends it).")
    slow_s: float = Field(default=0.3, description="A slow call waits this long, then answers.")
    ledger: str | None = Field(default=None, description="File each injected fault is appended to before it happens.")


class InjectedFault(RuntimeError):
    """What a ``raise`` fault raises."""


class FaultySmt(Tool):
    """An ``smt`` backend that injects faults into a share of the calls of a real one."""

    name: ClassVar[str] = "faulty"
    capability: ClassVar[str] = "smt"
    version: ClassVar[str] = "0.1.0"
    ops: ClassVar[frozenset[str]] = frozenset({"fol", "arith"})
    Options: ClassVar[type[BaseModel]] = FaultOptions
    isolation = "process"
    cacheable: ClassVar[bool] = False  # a fault must not be remembered, nor an answer hide the next fault
    options: FaultOptions

    def start(self) -> None:
        from chil_core.plugins import load_object

        cls = load_object(self.options.wrap)
        self.inner: Tool = cls(cls.Options.model_validate(self.options.options))
        self.inner.start()
        # one stream per worker process: which calls fault is random, what they do is in the ledger
        self.rng = random.Random(f"{self.options.seed}:{os.getpid()}")

    def _ledger(self, kind: str, call: ToolCall) -> None:
        if self.options.ledger:
            fd = os.open(self.options.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{kind} {call.digest()}\n".encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        out: list[ToolResult | Any] = []
        for call in calls:
            kind = self.rng.choice(self.options.kinds) if self.rng.random() < self.options.rate else None
            if kind is not None:
                self._ledger(kind, call)
            if kind == "raise":
                raise InjectedFault(f"injected fault on call {call.digest()}")
            if kind == "crash":
                os._exit(17)
            if kind == "hang":
                time.sleep(self.options.hang_s)
            if kind == "slow":
                time.sleep(self.options.slow_s)
            out.extend(self.inner.run_batch([call]))
        return out

    def close(self) -> None:
        inner = getattr(self, "inner", None)
        if inner is not None:
            inner.close()


def faults_plugin() -> types.ModuleType:
    """A plugin module registering :class:`FaultySmt` (``pm.add_plugin(faults_plugin(), "faults")``)."""
    from chil_core import hookimpl

    module = types.ModuleType("chil_faults_plugin")

    @hookimpl
    def chil_register_tools(register):  # type: ignore[no-untyped-def]
        register(FaultySmt)

    module.chil_register_tools = chil_register_tools  # type: ignore[attr-defined]
    return module


def read_ledger(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(kind, call digest) of every injected fault."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [tuple(line.split()) for line in fh if line.strip()]  # type: ignore[misc]
    except FileNotFoundError:
        return []
