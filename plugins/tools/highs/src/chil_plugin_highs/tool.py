"""``HighsSolver``: the ``solver`` backend ``highs``.  Models of the ``solver`` contract solved with HiGHS
(highspy): simplex / interior point for LPs, branch and cut for MILPs.  The time limit of each call is
HiGHS's own ``time_limit`` option; the model is passed in one call (column-wise arrays)."""

from __future__ import annotations

import os
import sys
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities import solver as S


class HighsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_variables: int = Field(default=S.MAX_VARIABLES * 10, ge=1, le=10_000_000)
    max_constraints: int = Field(default=S.MAX_CONSTRAINTS * 10, ge=1, le=10_000_000)
    max_nonzeros: int = Field(default=S.MAX_NONZEROS * 10, ge=1, le=100_000_000)
    threads: int = Field(default=1, ge=1, le=64, description="HiGHS threads per call.")
    presolve: bool = Field(default=True, description="HiGHS presolve (off tells infeasible from unbounded more often).")


class HighsSolver(Tool):
    name: ClassVar[str] = "highs"
    capability: ClassVar[str] = "solver"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "HiGHS via highspy: LP and MILP."
    ops: ClassVar[frozenset[str]] = frozenset({"solve"})
    Options: ClassVar[type[BaseModel]] = HighsOptions
    isolation: ClassVar[str] = "thread"  # type: ignore[assignment]
    priority: ClassVar[int] = 10
    #: small batches: one batch must finish within the scheduler's per-call timeout
    max_batch: ClassVar[int] = 16
    options: HighsOptions

    requires_modules: ClassVar[dict[str, str]] = {"highspy": "highspy", "numpy": "numpy"}

    def start(self) -> None:
        import highspy

        self._hs = highspy
        _quiet_banner(highspy)

    def run_one(self, call: ToolCall) -> Any:
        if call.op != "solve":
            return ToolResult.failure(f"unknown op {call.op!r}")
        o = self.options
        try:
            model, limit = S.load_solve(call.payload, max_variables=o.max_variables, max_constraints=o.max_constraints,
                                        max_nonzeros=o.max_nonzeros)
        except S.ModelError as exc:
            return ToolResult.failure(str(exc))
        return solve(self._hs, model, limit, o.threads, o.presolve)


_BANNER_SHOWN = False


def _quiet_banner(hs: Any) -> None:
    """HiGHS prints its banner on stdout at the first ``Highs()`` of a process, before any option can
    silence it; ``chil score`` may write JSONL on stdout, and on stderr it is noise in every run, so
    that first construction runs with file descriptor 1 pointed at the null device (the licence
    notice ships with highspy itself)."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        hs.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
        _BANNER_SHOWN = True


def solve(hs: Any, model: S.Model, limit: float, threads: int = 1, presolve: bool = True) -> dict[str, Any]:
    import numpy as np

    _quiet_banner(hs)
    h = hs.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("threads", threads)
    h.setOptionValue("presolve", "on" if presolve else "off")
    inf = hs.kHighsInf
    names = [v.name for v in model.variables]
    index = {n: i for i, n in enumerate(names)}
    # the whole model in a few bulk calls (column bounds, costs, integrality, rows in CSR form)
    nv = len(names)
    h.addVars(nv, np.array([-inf if v.lb is None else float(v.lb) for v in model.variables], dtype=np.float64),
              np.array([inf if v.ub is None else float(v.ub) for v in model.variables], dtype=np.float64))
    if model.objective:
        h.changeColsCost(len(model.objective), np.array([index[n] for n, _ in model.objective], dtype=np.int32),
                         np.array([float(c) for _, c in model.objective], dtype=np.float64))
    ints = [i for i, v in enumerate(model.variables) if v.integer]
    if ints:
        h.changeColsIntegrality(len(ints), np.array(ints, dtype=np.int32),
                                np.array([hs.HighsVarType.kInteger] * len(ints)))
    if model.constraints:
        lower, upper, starts, idx, val = [], [], [], [], []
        for c in model.constraints:
            r = float(c.rhs)
            lower.append(-inf if c.sense == "<=" else r)
            upper.append(inf if c.sense == ">=" else r)
            starts.append(len(idx))
            for n, k in c.terms:
                idx.append(index[n])
                val.append(float(k))
        h.addRows(len(lower), np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64), len(idx),
                  np.array(starts, dtype=np.int32), np.array(idx, dtype=np.int32), np.array(val, dtype=np.float64))
    h.changeObjectiveOffset(float(model.constant))
    h.changeObjectiveSense(hs.ObjSense.kMaximize if model.sense == "max" else hs.ObjSense.kMinimize)
    h.run()
    st = h.getModelStatus()
    M = hs.HighsModelStatus
    if st == M.kOptimal:
        sol = h.getSolution().col_value
        return S.answer("optimal", h.getInfo().objective_function_value, dict(zip(names, sol, strict=True)))
    if st == M.kInfeasible:
        return S.answer("infeasible")
    if st == M.kUnbounded:
        return S.answer("unbounded")
    if st == M.kUnboundedOrInfeasible:
        return S.answer("infeasible_or_unbounded")
    if st == M.kTimeLimit:
        return S.answer("time_limit")
    return S.answer("not_solved")
