"""What the Z3 tools share: their options and a per-instance Z3 context with bounded solvers.

The Z3 tools run **process-isolated**: a check that runs past the scheduler's timeout is ended by
killing its worker (a Z3 call on a thread cannot be cancelled: an abandoned thread would keep its core
busy), and each worker's memory is bounded twice, by Z3's own ``memory_max_size`` (a check that needs
more gives up with an error status) and by the worker's address-space limit (``memory_mb``).  Every
solver gets a deterministic resource limit (``rlimit``, so a cached answer does not depend on machine
load) and a wall-clock ``timeout``; a check that hits the wall clock is a ``timeout`` status, which the
scheduler counts.  The Z3 context is replaced every ``context_calls`` calls: a context keeps every
symbol and declaration it ever saw, so a long run would otherwise grow with each new name.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult


class Z3Options(BaseModel):
    """Options of both Z3 backends (``[tools.z3]``)."""

    model_config = ConfigDict(extra="forbid")

    timeout_ms: int = Field(default=2_000, ge=1, le=600_000, description="Wall-clock limit of one solver check.")
    rlimit: int = Field(default=20_000_000, ge=0, description="Z3 resource limit of one check (0 = none).")
    max_nodes: int = Field(default=50_000, ge=1, description="Largest formula/theory accepted, in AST nodes.")
    memory_mb: int = Field(default=1024, ge=16, description="Z3's own memory bound per worker (memory_max_size).")
    context_calls: int = Field(default=2_000, ge=1, description="Calls served by one Z3 context before it is replaced.")


class SolverGaveUp(Exception):
    """A check ended ``unknown`` because of a limit; ``status`` is the ToolResult status to report."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Z3Tool(Tool):
    """Base of the Z3 backends: imports z3 in :meth:`start`, builds bounded solvers."""

    Options: ClassVar[type[BaseModel]] = Z3Options
    isolation = "process"
    #: the worker's address-space bound (the scheduler's ``memory_mb`` overrides it)
    memory_mb: ClassVar[int] = 4096
    #: imported once in the fork server, so a replacement worker starts in a fork
    preload_modules: ClassVar[tuple[str, ...]] = ("z3",)
    version: ClassVar[str] = "0.1.0"

    options: Z3Options

    requires_modules: ClassVar[dict[str, str]] = {"z3": "z3-solver"}

    def start(self) -> None:
        import z3
        from z3.z3 import _to_expr_ref

        self.z3 = z3
        self._expr = _to_expr_ref
        z3.set_param("memory_max_size", self.options.memory_mb)
        self.ctx = z3.Context()
        self._calls = 0

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        self._count(len(calls))
        return super().run_batch(calls)

    def _count(self, n: int) -> None:
        """Count ``n`` calls; past ``context_calls`` a fresh context frees what the old one accumulated."""
        self._calls += n
        if self._calls > self.options.context_calls:
            self._calls = n
            self.ctx = self.z3.Context()
            from chil_plugin_z3 import arith

            arith.reset_context()

    def solver(self, *, minimal_cores: bool, ctx: Any = None) -> Any:
        """A solver with this tool's limits, in ``ctx`` (default: the tool's shared context);
        ``minimal_cores`` when its unsat cores are shown as evidence (core minimisation costs on every
        unsat check)."""
        s = self.z3.Solver(ctx=self.ctx if ctx is None else ctx)
        s.set("timeout", self.options.timeout_ms)
        if self.options.rlimit:
            s.set("rlimit", self.options.rlimit)
        s.set("core.minimize", minimal_cores)
        return s

    def check(self, solver: Any, assumptions: list[Any]) -> bool | None:
        """True = sat, False = unsat, None = unknown for a reason that is the formula's (quantifiers).

        Raises :class:`SolverGaveUp` for a timeout (status ``timeout``, not cached) or the resource
        limit (status ``error``)."""
        t0 = time.perf_counter()
        r = solver.check(*assumptions)
        if r == self.z3.sat:
            return True
        if r == self.z3.unsat:
            return False
        reason = solver.reason_unknown()
        # Under assumptions Z3 reports both limits as "canceled": the clock tells them apart.
        elapsed_ms = (time.perf_counter() - t0) * 1000
        if "timeout" in reason or ("canceled" in reason and elapsed_ms >= 0.9 * self.options.timeout_ms):
            raise SolverGaveUp("timeout", f"z3 gave up after {self.options.timeout_ms} ms ({reason})")
        if "memory" in reason:
            raise SolverGaveUp("error", f"z3 memory bound reached ({reason}); raise tools.z3.memory_mb")
        if "canceled" in reason or "resource" in reason:
            raise SolverGaveUp("error", f"z3 resource limit reached ({reason}); raise tools.z3.rlimit")
        return None

    def app(self, f: Any, args: list[Any]) -> Any:
        """``f(*args)`` through the C API: 9x faster than ``FuncDeclRef.__call__``, which re-checks
        every argument's sort (ours are built right: all of sort U)."""
        z3 = self.z3
        if not args:
            return f() if isinstance(f, z3.FuncDeclRef) else f
        arr = (z3.Ast * len(args))(*(a.as_ast() for a in args))
        return self._expr(z3.Z3_mk_app(self.ctx.ref(), f.as_ast(), len(args), arr), self.ctx)

    def failure(self, exc: Exception) -> ToolResult:
        if isinstance(exc, SolverGaveUp):
            return ToolResult.failure(exc.reason, exc.status)  # type: ignore[arg-type]
        return super().failure(exc)
