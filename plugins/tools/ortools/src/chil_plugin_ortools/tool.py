"""``OrToolsSolver``: the ``solver`` backend ``ortools``.  Models of the ``solver`` contract solved with
OR-Tools' linear solver wrapper (pywraplp): GLOP for LPs, SCIP for MILPs, or CP-SAT (integer models
only), chosen by the ``engine`` option (``auto``: GLOP when no variable is integer, else SCIP).

The time limit of each call is the solver's own (``SetTimeLimit``): a model it cannot finish in time is
answered ``time_limit``, not left hanging.  GLOP reports an unbounded LP as INFEASIBLE through
pywraplp; such an answer is re-checked with a zero objective (feasible: the LP is unbounded).  Process-isolated, so a crash in native code costs one worker.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities import solver as S


class OrToolsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: Literal["auto", "GLOP", "SCIP", "CP-SAT"] = Field(default="auto", description="pywraplp solver; auto = GLOP for LPs, SCIP for MILPs.")
    max_variables: int = Field(default=S.MAX_VARIABLES * 10, ge=1, le=10_000_000)
    max_constraints: int = Field(default=S.MAX_CONSTRAINTS * 10, ge=1, le=10_000_000)
    max_nonzeros: int = Field(default=S.MAX_NONZEROS * 10, ge=1, le=100_000_000)
    threads: int = Field(default=1, ge=1, le=64, description="Solver threads per call.")



class OrToolsSolver(Tool):
    name: ClassVar[str] = "ortools"
    capability: ClassVar[str] = "solver"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "OR-Tools pywraplp: GLOP (LP), SCIP (MILP), CP-SAT (integer models)."
    ops: ClassVar[frozenset[str]] = frozenset({"solve"})
    Options: ClassVar[type[BaseModel]] = OrToolsOptions
    isolation: ClassVar[str] = "process"  # type: ignore[assignment]
    priority: ClassVar[int] = 5
    #: small batches: one batch must finish within the scheduler's per-call timeout
    max_batch: ClassVar[int] = 16
    options: OrToolsOptions

    requires_modules: ClassVar[dict[str, str]] = {"ortools": "ortools"}

    def start(self) -> None:
        from ortools.linear_solver import pywraplp

        self._lp = pywraplp

    def run_one(self, call: ToolCall) -> Any:
        if call.op != "solve":
            return ToolResult.failure(f"unknown op {call.op!r}")
        o = self.options
        try:
            model, limit = S.load_solve(call.payload, max_variables=o.max_variables, max_constraints=o.max_constraints,
                                        max_nonzeros=o.max_nonzeros)
        except S.ModelError as exc:
            return ToolResult.failure(str(exc))
        return solve(self._lp, model, limit, o.engine, o.threads)


def solve(lp: Any, model: S.Model, limit: float, engine: str, threads: int = 1) -> dict[str, Any] | ToolResult:
    if engine == "auto":
        engine = "SCIP" if model.is_mip else "GLOP"
    if engine == "GLOP" and model.is_mip:
        return ToolResult.failure("GLOP solves LPs only; the model has integer variables (use SCIP or CP-SAT)")
    if engine == "CP-SAT" and not all(v.integer for v in model.variables):
        return ToolResult.failure("CP-SAT needs every variable integer")
    solver = lp.Solver.CreateSolver(engine)
    if solver is None:
        return ToolResult.failure(f"OR-Tools has no {engine} solver in this build", "unavailable")
    inf = solver.infinity()
    solver.SetTimeLimit(max(1, int(limit * 1000)))
    solver.SetNumThreads(threads)
    xs = {}
    for v in model.variables:
        lb = -inf if v.lb is None else float(v.lb)
        ub = inf if v.ub is None else float(v.ub)
        xs[v.name] = solver.IntVar(lb, ub, v.name) if v.integer else solver.NumVar(lb, ub, v.name)
    for c in model.constraints:
        lo, hi = (-inf, float(c.rhs)) if c.sense == "<=" else (float(c.rhs), inf) if c.sense == ">=" else (float(c.rhs), float(c.rhs))
        row = solver.RowConstraint(lo, hi, c.name)
        for n, k in c.terms:
            row.SetCoefficient(xs[n], float(k))
    obj = solver.Objective()
    for n, k in model.objective:
        obj.SetCoefficient(xs[n], float(k))
    obj.SetOffset(float(model.constant))
    if model.sense == "max":
        obj.SetMaximization()
    else:
        obj.SetMinimization()
    status = solver.Solve()
    S_ = lp.Solver
    if status == S_.OPTIMAL:
        value = obj.Value()
        if not math.isfinite(value):
            return S.answer("not_solved")
        return S.answer("optimal", value, {n: x.solution_value() for n, x in xs.items()})
    if status == S_.INFEASIBLE:
        if engine == "GLOP":  # GLOP answers INFEASIBLE for unbounded LPs too: a zero objective tells them apart
            obj.Clear()
            if solver.Solve() == S_.OPTIMAL:
                return S.answer("unbounded")
        return S.answer("infeasible")
    if status == S_.UNBOUNDED:
        return S.answer("unbounded")
    if status == S_.FEASIBLE or status == S_.NOT_SOLVED:
        return S.answer("time_limit" if solver.wall_time() >= limit * 1000 * 0.9 else "not_solved")
    return S.answer("not_solved")
