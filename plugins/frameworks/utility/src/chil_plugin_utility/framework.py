"""``UtilityFramework``: is the proposed decision good?  Checked by solvers, never by trusting the
completion's numbers.

* Games (``metadata.game``): every claimed equilibrium is checked exactly in rationals (the most
  profitable deviation is the evidence), with claimed payoffs and dominance; "these are all the
  equilibria" (or ``metadata.question = "all_equilibria"``) is checked against the ``game`` backend's
  enumeration.
* Optimisation (``metadata.model``, a structured instance, or a model in the completion): the claimed
  solution's feasibility and objective exactly in rationals, its optimality against the ``solver``
  backend's optimum, and the optimum or claimed value against ``reference.answer``.
* Expected value and risk (``metadata.lotteries``, ``metadata.decision_tree``): claimed expected values,
  variances, dominance and choices recomputed exactly.

Scope: a record with none of those (and no model in the completion) is abstained on.  A record that has
one asks something: a completion that claims nothing about it scores 0 (``no_answer``), never masked.
Failures the completion causes (an unreadable or over-sized model, a model the solver cannot finish
within its time limit) are penalised; failures of the infrastructure (a backend that times out, crashes
or is missing) become ``timeout`` / ``error`` statuses, which the reward policy masks.

Score: the mean of the judged items, weighted per kind (README).
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from typing import Any, ClassVar

from chil_plugin_empirical.expr import Limits
from pydantic import BaseModel, ConfigDict, Field

from chil_core import Context, Evidence, Framework, FrameworkResult, Record
from chil_core.capabilities import game as G
from chil_core.capabilities import predictor as P
from chil_core.capabilities import solver as S
from chil_core.failures import tool_failure
from chil_plugin_utility import games, lotteries, optim, predictor
from chil_plugin_utility.common import json_objects

log = logging.getLogger(__name__)

_VERDICTS = {"equilibrium": "not_equilibrium", "payoff": "wrong_payoff", "dominant": "wrong_dominance",
             "dominated": "wrong_dominance", "complete": "incomplete", "unreadable": "unreadable",
             "model": "model_invalid", "feasible": "infeasible_solution", "objective": "wrong_objective",
             "optimal": "suboptimal", "status": "wrong_status", "answer": "wrong_answer",
             "expected_value": "wrong_expected_value", "variance": "wrong_variance", "dominance": "wrong_dominance",
             "choice": "wrong_choice", "solver_limit": "solver_limit"}
#: weight of each item kind in the score (unlisted kinds weigh 1).
#: cells x largest strategy count above which an n-player game is not reduced by dominance
_MAX_ELIMINATION_WORK = 200_000
_WEIGHTS = {"optimal": 3.0, "answer": 3.0, "solver_limit": 3.0, "model": 3.0}


class UtilityOptions(BaseModel):
    """``[frameworks.utility.options]``."""

    model_config = ConfigDict(extra="forbid")

    games: bool = Field(default=True, description="Judge game claims (metadata.game).")
    optimisation: bool = Field(default=True, description="Judge optimisation claims.")
    lotteries: bool = Field(default=True, description="Judge expected value / risk claims.")
    max_strategies: int = Field(default=100, ge=1, le=1000, description="Most strategies per player in a game that is checked.")
    max_cells: int = Field(default=10_000, ge=1, le=1_000_000, description="Most payoff cells in a game that is checked.")
    max_enumeration_bases: int = Field(default=200_000, ge=1, description="Games with more candidate bases C(m+n, m) are not enumerated (completeness unverifiable).")
    max_equilibria: int = Field(default=1000, ge=1, le=100_000, description="Most equilibria asked of the game backend.")
    max_claims: int = Field(default=64, ge=1, le=4096, description="Most profiles judged per record.")
    max_variables: int = Field(default=2000, ge=1, le=1_000_000, description="Largest model (variables) solved.")
    max_constraints: int = Field(default=2000, ge=1, le=1_000_000, description="Largest model (constraints) solved.")
    max_nonzeros: int = Field(default=100_000, ge=1, le=100_000_000, description="Largest model (nonzero coefficients) solved.")
    time_limit_s: float = Field(default=2.0, gt=0, le=600, description="Solver time limit per model.")
    feasibility_tol: str = Field(default="0", description="Absolute slack allowed in constraints (exact rational, e.g. '1/1000000').")
    predictor_model: str = Field(default="", description="Directory of a predictor fitted by `chil fit-predictor` (metadata.predictor records).")
    max_outcomes: int = Field(default=1000, ge=1, le=100_000, description="Most outcomes per lottery / nodes per decision tree.")
    max_digits: int = Field(default=60, ge=1, le=10_000, description="Longest number literal read from a completion.")
    max_bits: int = Field(default=4096, ge=64, le=1_000_000, description="Largest value, in bits, computed from a completion's numbers.")
    max_evidence: int = Field(default=20, ge=0, le=1000, description="Most evidence items per result.")


class UtilityFramework(Framework):
    """Is the proposed decision good?  Games, optimisation, expected value and risk."""

    name: ClassVar[str] = "utility"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Is the decision good? Exact Nash checks, LP/MILP optima (OR-Tools, HiGHS), expected value and risk."
    capabilities: ClassVar[dict[str, bool]] = {"game": False, "solver": False, "predictor": False}
    default_tools: ClassVar[dict[str, str]] = {"game": "exact", "solver": "highs", "predictor": "xgboost"}
    Options: ClassVar[type[BaseModel]] = UtilityOptions
    #: what a result depends on (the record cache's key): not the id or the group, so that the equal
    #: completions of a GRPO group are scored once
    reads: ClassVar[tuple[str, ...]] = ("completion", "reference", "metadata")
    options: UtilityOptions

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        o = self.options
        self._limits = Limits(max_digits=o.max_digits, max_bits=o.max_bits)
        self._model_limits = {"max_variables": o.max_variables, "max_constraints": o.max_constraints, "max_nonzeros": o.max_nonzeros}
        try:
            self._tol = G.number(o.feasibility_tol, "feasibility_tol")
        except G.GameError as exc:
            raise ValueError(f"frameworks.utility.options.feasibility_tol: {exc}") from None
        self._spec: P.Spec | None = None
        if o.predictor_model:
            try:
                self._spec = P.load_spec(o.predictor_model)
            except P.PredictorError as exc:
                raise ValueError(f"frameworks.utility.options.predictor_model: {exc}") from None

    async def score(self, record: Record, ctx: Context) -> FrameworkResult:
        md = record.metadata or {}
        opts = self.options
        if opts.games and "game" in md:
            return await self._game(record, ctx)
        if opts.optimisation:
            src = optim.record_model(md, self._model_limits)
            if src is not None:
                return await self._optim(record, ctx, src)
        if "predictor" in md:
            return await self._predict(record, ctx)
        if opts.lotteries and ("lotteries" in md or "decision_tree" in md):
            return self._finish(*lotteries.judge(md, record.completion, self._limits, opts.max_outcomes))
        if opts.optimisation:
            blocks, _ = json_objects(record.completion)
            src = optim.completion_model(record.completion, blocks, self._model_limits)
            if src.origin == "completion" or md.get("task") == "optimization":
                return await self._optim(record, ctx, src)
        return FrameworkResult.abstained("nothing to judge: no game, model, instance or lottery in the record or the completion")

    # -- games ---------------------------------------------------------------------------------
    async def _game(self, record: Record, ctx: Context) -> FrameworkResult:
        opts = self.options
        try:
            game = G.load_game(record.metadata["game"], "metadata.game", max_strategies=opts.max_strategies, max_cells=opts.max_cells)
        except G.GameError as exc:
            return FrameworkResult.abstained(f"record outside the configured bounds or malformed: {exc}")
        blocks, errors = json_objects(record.completion)
        claims = games.extract(game, record.completion, blocks)
        question = record.metadata.get("question")
        asks_all, asks_pure = question == "all_equilibria", question == "all_pure_equilibria"
        notes: list[Evidence] = []
        enumeration = None
        if (claims.all_claimed or asks_all) and not claims.empty:
            target: G.Game | None = game
            alive, pair = None, None
            if game.n_players != 2 and math.prod(game.shape) * max(game.shape) > _MAX_ELIMINATION_WORK:
                notes.append(Evidence(kind="note", text=f"{game.n_players}-player game too large for eliminating dominated strategies: "
                                      "completeness is judged against the pure equilibria only"))
                target = None
            elif game.n_players != 2:
                # iterated elimination of strictly dominated strategies keeps every equilibrium; when it
                # leaves at most two players with a choice, their bimatrix game has the same equilibria
                alive = games.iesds(game)
                reduced = games.reduced_bimatrix(game, alive)
                if reduced is None:
                    notes.append(Evidence(kind="note", text="mixed equilibria of this n-player game are not enumerated (more than two "
                                          "players keep several strategies after eliminating dominated ones): completeness is "
                                          "judged against the pure equilibria only"))
                    target = None
                else:
                    target, pair = reduced
            if target is None:
                pass
            elif math.comb(sum(target.shape), target.shape[0]) > opts.max_enumeration_bases:
                notes.append(Evidence(kind="note", text=f"game {target.shape[0]}x{target.shape[1]} too large to enumerate "
                                      f"(max_enumeration_bases {opts.max_enumeration_bases}): completeness judged against the pure equilibria"))
            elif not ctx.has("game"):
                notes.append(Evidence(kind="note", text="no game backend: completeness judged against the pure equilibria"))
            else:
                res = await ctx.call("game", "equilibria", {"game": target.to_json(), "max_equilibria": opts.max_equilibria})
                if res.status == "unavailable":
                    notes.append(Evidence(kind="note", text=f"game backend unavailable: {res.error}"))
                elif not res.ok or not isinstance(res.value, dict):
                    return tool_failure(res, "game", completion_input=False)  # the record's game alone
                else:
                    enumeration = res.value
                    if pair is not None and alive is not None:
                        lifted = {games.lift(game, alive, pair, tuple(tuple(games.backend_number(x) for x in e[side])
                                                                      for side in ("row", "col")))
                                  for e in res.value["equilibria"]}
                        enumeration = {**res.value, "profiles": lifted}
                        notes.append(Evidence(kind="note", text=f"{game.n_players}-player game reduced by eliminating strictly dominated "
                                              f"strategies to {target.shape[0]}x{target.shape[1]} between "
                                              f"{game.players[pair[0]]} and {game.players[pair[1]]}: its equilibria are all the game's"))
        items = [games.Item("unreadable", False, e) for e in errors]
        items += games.judge(game, claims, asks_all, enumeration, self._limits, opts.max_claims, asks_pure)
        if not items:
            items = [games.Item("equilibrium", False, "no equilibrium, payoff or dominance claim found", {"verdict": "no_answer"})]
            return self._finish(items, notes, "no_answer")
        return self._finish(items, notes)

    # -- optimisation --------------------------------------------------------------------------
    async def _optim(self, record: Record, ctx: Context, src: optim.ModelSource) -> FrameworkResult:
        opts = self.options
        text = record.completion
        blocks, errors = json_objects(text)
        ref = optim.reference_value(record.reference)
        items = [games.Item("unreadable", False, e) for e in errors]
        notes: list[Evidence] = []
        if src.error:
            if src.origin != "completion":
                return FrameworkResult.abstained(f"record outside the configured bounds or malformed: {src.error}")
            items.append(games.Item("model", False, f"the completion's model is not usable: {src.error}"))
            return self._finish(items, notes)
        claims = optim.extract(src, text, blocks, self._limits)
        items += [games.Item("unreadable", False, e) for e in claims.errors]
        model = src.model
        if model is None:  # no model anywhere: the answer alone against the reference
            if ref is None:
                return FrameworkResult.abstained("no model in the record or the completion, and no reference answer")
            if claims.objective is None:
                items.append(games.Item("answer", False, f"no optimal value found (reference {ref[0]})"))
            else:
                items.append(games.Item("answer", optim.answer_matches(claims.objective, ref),
                                        f"claimed optimal value {claims.objective} vs reference {ref[0]}"))
            return self._finish(items, notes)
        if claims.empty and not errors:
            return self._finish([games.Item("answer", False, "no solution, optimal value or status claimed")], notes, "no_answer")
        sol_obj = None
        if claims.solution is not None:
            try:
                values, missing = S.load_solution(model, claims.solution)
                ev = S.evaluate(model, values, self._tol)
                sol_obj = ev.objective
                if missing:
                    notes.append(Evidence(kind="note", text=f"variables not given, taken as 0: {', '.join(missing[:10])}"))
                items.append(games.Item("feasible", ev.feasible, "the claimed solution is feasible" if ev.feasible else
                                        f"the claimed solution violates {len(ev.violations)} constraint(s): {ev.violations[0][1]}",
                                        {"violations": [n for n, _ in ev.violations[:10]]}))
                if claims.objective is not None:
                    ok = claims.objective == ev.objective or abs(claims.objective - ev.objective) <= abs(ev.objective) * Fraction(1, 10**6)
                    items.append(games.Item("objective", ok, f"claimed objective {claims.objective}; the solution's objective is "
                                            f"{ev.objective}"))
            except S.ModelError as exc:
                items.append(games.Item("feasible", False, f"the claimed solution is unreadable: {exc}"))
        claimed_value = sol_obj if sol_obj is not None else claims.objective
        comps: dict[str, float] = {}
        if ctx.has("solver"):
            res = await ctx.call("solver", "solve", {"model": model.to_json(), "time_limit_s": opts.time_limit_s})
            if res.status == "unavailable":
                notes.append(Evidence(kind="note", text=f"solver unavailable: {res.error}; optimality not checked"))
            elif not res.ok or not isinstance(res.value, dict):
                return tool_failure(res, "solver", completion_input=src.origin == "completion")
            else:
                self._judge_solve(src, res.value, claims, claimed_value, sol_obj, items, comps, notes, ctx.backend("solver"))
                if not items and src.origin != "completion":
                    return FrameworkResult.abstained("the record's model has no optimum and nothing was claimed")
        else:
            notes.append(Evidence(kind="note", text="no solver backend: optimality not checked"))
        if ref is not None:
            got = claims.objective if claims.objective is not None else sol_obj
            if got is None:
                items.append(games.Item("answer", False, f"no optimal value stated (reference {ref[0]})"))
            else:
                items.append(games.Item("answer", optim.answer_matches(got, ref), f"stated optimal value {got} vs reference {ref[0]}"))
        return self._finish(items, notes, components=comps)

    @staticmethod
    def _judge_solve(src: optim.ModelSource, value: dict[str, Any], claims: optim.OptClaims, claimed_value: Fraction | None,
                     sol_obj: Fraction | None, items: list[games.Item], comps: dict[str, float], notes: list[Evidence],
                     backend: str | None) -> None:
        status = value.get("status")
        if status == "optimal":
            opt = value.get("objective")
            comps["optimum"] = float(opt) if opt is not None else float("nan")
            if claims.status:
                items.append(games.Item("status", False, f"claimed the model is {claims.status}, but {backend} finds the optimum {opt}"))
            if claimed_value is not None and opt is not None:
                gap = abs(float(claimed_value) - float(opt))
                comps["gap"] = gap
                ok = S.close(claimed_value, opt)
                what = "the claimed solution's objective" if sol_obj is not None else "the claimed optimal value"
                items.append(games.Item("optimal", ok, f"{what} {claimed_value} vs optimum {opt:g} ({backend}): "
                                        + ("optimal" if ok else f"gap {gap:g}"), {"optimum": opt, "gap": gap}))
            elif claimed_value is None and not claims.status:
                items.append(games.Item("optimal", False, f"no objective value stated (optimum {opt:g})"))
        elif status in ("infeasible", "unbounded", "infeasible_or_unbounded"):
            if claims.status:
                ok = claims.status == status or status == "infeasible_or_unbounded"
                items.append(games.Item("status", ok, f"claimed {claims.status}; {backend}: {status}"))
            elif src.origin == "completion":
                items.append(games.Item("model", False, f"the completion's model is {status.replace('_', ' ')} ({backend}): no optimum to claim"))
            else:
                items.append(games.Item("status", False, f"the model is {status.replace('_', ' ')} ({backend}), but the completion claims a solution"))
        else:  # time_limit / not_solved
            if src.origin == "completion":
                items.append(games.Item("solver_limit", False, f"{backend} could not solve the completion's model within its limit ({status})"))
            else:
                notes.append(Evidence(kind="note", text=f"{backend}: {status}; optimality not checked"))

    # -- learned predictor --------------------------------------------------------------------
    async def _predict(self, record: Record, ctx: Context) -> FrameworkResult:
        spec = self._spec
        if spec is None:
            return FrameworkResult.abstained("metadata.predictor given but no predictor_model configured")
        if not ctx.has("predictor"):
            return FrameworkResult.abstained("no predictor backend", cause="infrastructure")
        blocks, _ = json_objects(record.completion)
        md = record.metadata["predictor"] if isinstance(record.metadata["predictor"], dict) else {}
        try:
            names, rows, chosen, problem = predictor.decision_rows(spec, md, blocks, record.completion)
        except ValueError as exc:
            return FrameworkResult.abstained(f"record malformed: {exc}")
        if chosen is None:
            verdict = "no_answer" if problem == "no decision chosen" else "rejected_decision"
            return FrameworkResult.scored(0.0, verdict=verdict, evidence=[Evidence(kind="decision", text=str(problem))],
                                          explanation=str(problem))
        own = chosen == len(rows) - 1 and names[chosen].startswith("(")
        res = await ctx.call("predictor", "predict", {"model": str(spec.path), "sha256": spec.sha256, "rows": rows, "contributions": True})
        if not res.ok or not isinstance(res.value, dict):
            return tool_failure(res, "predictor", completion_input=own)
        preds = res.value["predictions"]
        cand = preds[: len(preds) - 1] if own else preds
        u, lo, hi = preds[chosen], min(preds), max(preds)
        score = 1.0 if hi == lo else (u - lo) / (hi - lo)
        contribs = (res.value.get("contributions") or [[]])[chosen][: len(spec.features)]
        top = sorted(zip(spec.features, contribs, strict=False), key=lambda fc: -abs(fc[1]))[:3]
        evidence = [Evidence(kind="prediction", text=f"{names[chosen]}: predicted {spec.target} {u:.4g}; best candidate "
                             f"{names[preds.index(max(cand))]} {max(cand):.4g}, worst {min(cand):.4g}",
                             data={"predicted": u, "best": max(cand), "worst": min(cand)}),
                    Evidence(kind="contributions", text="top contributions: " + ", ".join(f"{f} {c:+.3g}" for f, c in top),
                             data={f: c for f, c in top})]
        return FrameworkResult.scored(score, components={"predicted_utility": u, "best_candidate": max(cand), "relative": score},
                                      verdict="best" if u >= max(cand) else "not_best", evidence=evidence,
                                      explanation=f"predicted {spec.target} {u:.4g} vs best {max(cand):.4g}")

    # -- result --------------------------------------------------------------------------------
    def _finish(self, items: list[games.Item], notes: list[Evidence], verdict: str | None = None,
                components: dict[str, float] | None = None) -> FrameworkResult:
        if not items:
            return FrameworkResult.abstained("nothing judged", evidence=notes[: self.options.max_evidence])
        total = sum(_WEIGHTS.get(i.kind, 1.0) for i in items)
        score = sum(_WEIGHTS.get(i.kind, 1.0) for i in items if i.ok) / total
        comp: dict[str, float] = dict(components or {})
        comp.update(items=len(items), items_ok=sum(i.ok for i in items))
        for kind in sorted({i.kind for i in items}):
            of_kind = [i for i in items if i.kind == kind]
            comp[f"{kind}_ok"] = sum(i.ok for i in of_kind) / len(of_kind)
        bad = [i for i in items if not i.ok]
        if verdict is None:
            if bad:
                verdict = _VERDICTS.get(bad[0].kind, "incorrect")
            else:
                verdict = "equilibrium" if any(i.kind == "equilibrium" for i in items) else "correct"
        evidence = [Evidence(kind=i.kind, text=i.text, data={"ok": i.ok, **i.data}) for i in sorted(items, key=lambda i: i.ok)]
        evidence += notes
        expl = f"{comp['items_ok']:.0f}/{len(items)} claims correct" + (f"; first wrong: {bad[0].text}" if bad else "")
        return FrameworkResult.scored(score, components=comp, verdict=verdict, evidence=evidence[: self.options.max_evidence],
                                      explanation=expl[:500])
