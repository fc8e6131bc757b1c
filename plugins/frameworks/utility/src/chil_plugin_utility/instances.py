"""Structured optimisation instances in ``metadata`` turned into ``solver`` models, and a completion's
answer for them turned into a solution of that model.

* ``knapsack``: ``{"values": [...], "weights": [...], "capacity": C, "items": [names]?}``; the completion
  names the chosen items: ``{"selected": ["a", "c"]}`` (names or 0-based indices).
* ``assignment``: ``{"costs": [[...]], "agents": [...]?, "tasks": [...]?, "sense": "min"}`` (square or
  more tasks than agents); ``{"assignment": {"agent": "task", ...}}`` or ``[task index per agent]``.
* ``transportation``: ``{"supply": [...], "demand": [...], "costs": [[...]]}``; ``{"shipments": [[...]]}``.
* ``shortest_path``: ``{"edges": [[u, v, w], ...], "source": s, "target": t, "directed": true}``;
  ``{"path": [s, ..., t]}``.
* ``scheduling``: jobs on identical parallel machines, minimum makespan (P||Cmax):
  ``{"durations": [...], "jobs": [names]?, "machines": 2 | [names]}``; ``{"schedule": {"M1": ["a", "c"],
  "M2": ["b"]}}`` (machine -> jobs) or ``{"machine_of": {"a": "M1", ...}}`` (job -> machine); the
  objective is the makespan (``"makespan": 7`` is read as the claimed objective).  Model: binary
  ``x_j_m`` (job ``j`` on machine ``m``), each job on exactly one machine, every machine's load at most
  the variable ``makespan``, which is minimised.
"""

from __future__ import annotations

from typing import Any

from chil_core.capabilities.solver import ModelError

KINDS = ("knapsack", "assignment", "transportation", "shortest_path", "scheduling")
#: most jobs x machines of a scheduling instance (its binary variables)
MAX_SCHEDULING_CELLS = 2_000


def _machines(data: dict[str, Any], where: str) -> list[str]:
    m = data.get("machines")
    if isinstance(m, int) and not isinstance(m, bool):
        if not 1 <= m <= 100:
            raise ModelError(f"{where}.machines must be 1 to 100")
        return [f"M{i + 1}" for i in range(m)]
    if isinstance(m, list) and m and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in m) and len(m) <= 100:
        names = [str(x) for x in m]
        if len(set(names)) != len(names):
            raise ModelError(f"{where}.machines has duplicate names")
        return names
    raise ModelError(f"{where}.machines must be a count (1 to 100) or a list of names")


def _jobs(data: dict[str, Any], where: str) -> list[str]:
    n = len(data["durations"])
    names = [str(x) for x in data.get("jobs", [])] or [f"J{i + 1}" for i in range(n)]
    if len(names) != n or len(set(names)) != n:
        raise ModelError(f"{where}.jobs must name each of the {n} jobs once")
    return names


def _list(data: Any, key: str, where: str) -> list[Any]:
    v = data.get(key) if isinstance(data, dict) else None
    if not isinstance(v, list) or not v:
        raise ModelError(f"{where}.{key} must be a non-empty list")
    return v


def model_of(kind: str, data: Any) -> dict[str, Any]:
    """The ``solver`` model dict of a structured instance."""
    w = f"metadata.{kind}"
    if not isinstance(data, dict):
        raise ModelError(f"{w} must be an object")
    if kind == "knapsack":
        values, weights = _list(data, "values", w), _list(data, "weights", w)
        if len(values) != len(weights):
            raise ModelError(f"{w}: values and weights differ in length")
        names = [f"x{i}" for i in range(len(values))]
        return {"sense": "max", "variables": [{"name": n, "binary": True} for n in names],
                "objective": dict(zip(names, values, strict=True)),
                "constraints": [{"name": "capacity", "terms": dict(zip(names, weights, strict=True)), "sense": "<=", "rhs": data.get("capacity")}]}
    if kind == "assignment":
        costs = _list(data, "costs", w)
        m, n = len(costs), len(costs[0]) if isinstance(costs[0], list) else 0
        if n < m or any(not isinstance(r, list) or len(r) != n for r in costs):
            raise ModelError(f"{w}.costs must be an m x n matrix with n >= m")
        var = {(i, j): f"x_{i}_{j}" for i in range(m) for j in range(n)}
        cons = [{"name": f"agent_{i}", "terms": {var[i, j]: 1 for j in range(n)}, "sense": "=", "rhs": 1} for i in range(m)]
        cons += [{"name": f"task_{j}", "terms": {var[i, j]: 1 for i in range(m)}, "sense": "<=", "rhs": 1} for j in range(n)]
        return {"sense": data.get("sense", "min"), "variables": [{"name": v, "binary": True} for v in var.values()],
                "objective": {var[i, j]: costs[i][j] for i in range(m) for j in range(n)}, "constraints": cons}
    if kind == "transportation":
        supply, demand, costs = _list(data, "supply", w), _list(data, "demand", w), _list(data, "costs", w)
        m, n = len(supply), len(demand)
        if len(costs) != m or any(not isinstance(r, list) or len(r) != n for r in costs):
            raise ModelError(f"{w}.costs must be {m} x {n}")
        var = {(i, j): f"x_{i}_{j}" for i in range(m) for j in range(n)}
        cons = [{"name": f"supply_{i}", "terms": {var[i, j]: 1 for j in range(n)}, "sense": "<=", "rhs": supply[i]} for i in range(m)]
        cons += [{"name": f"demand_{j}", "terms": {var[i, j]: 1 for i in range(m)}, "sense": ">=", "rhs": demand[j]} for j in range(n)]
        return {"sense": "min", "variables": list(var.values()),
                "objective": {var[i, j]: costs[i][j] for i in range(m) for j in range(n)}, "constraints": cons}
    if kind == "shortest_path":
        edges = _list(data, "edges", w)
        directed = data.get("directed", True) is not False
        arcs = []
        for k, e in enumerate(edges):
            if not isinstance(e, list) or len(e) != 3:
                raise ModelError(f"{w}.edges[{k}] must be [u, v, weight]")
            arcs.append((str(e[0]), str(e[1]), e[2]))
            if not directed:
                arcs.append((str(e[1]), str(e[0]), e[2]))
        nodes = sorted({a for a, _, _ in arcs} | {b for _, b, _ in arcs})
        s, t = str(data.get("source")), str(data.get("target"))
        if s not in nodes or t not in nodes:
            raise ModelError(f"{w}: source and target must be nodes of the graph")
        var = [f"e{k}" for k in range(len(arcs))]
        cons = []
        for i, node in enumerate(nodes):
            terms: dict[str, int] = {}
            for k, (a, b, _) in enumerate(arcs):
                if a == node:
                    terms[var[k]] = terms.get(var[k], 0) + 1
                if b == node:
                    terms[var[k]] = terms.get(var[k], 0) - 1
            rhs = 1 if node == s else -1 if node == t else 0
            if terms:
                cons.append({"name": f"flow_{i}", "terms": terms, "sense": "=", "rhs": rhs})
        return {"sense": "min", "variables": [{"name": v, "lb": 0, "ub": 1} for v in var],
                "objective": {var[k]: arcs[k][2] for k in range(len(arcs))}, "constraints": cons}
    if kind == "scheduling":
        durations = _list(data, "durations", w)
        for j, d in enumerate(durations):
            from chil_core.capabilities.game import GameError, number

            try:
                if number(d, f"{w}.durations[{j}]") < 0:
                    raise ModelError(f"{w}.durations[{j}] must be >= 0")
            except GameError as exc:
                raise ModelError(str(exc)) from None
        jobs, machines = _jobs(data, w), _machines(data, w)
        if len(jobs) * len(machines) > MAX_SCHEDULING_CELLS:
            raise ModelError(f"{w}: {len(jobs)} jobs x {len(machines)} machines exceed {MAX_SCHEDULING_CELLS}")
        var = {(j, m): f"x_{j}_{m}" for j in range(len(jobs)) for m in range(len(machines))}
        cons = [{"name": f"job_{j}", "terms": {var[j, m]: 1 for m in range(len(machines))}, "sense": "=", "rhs": 1}
                for j in range(len(jobs))]
        cons += [{"name": f"load_{m}", "terms": {**{var[j, m]: durations[j] for j in range(len(jobs))}, "makespan": -1},
                  "sense": "<=", "rhs": 0} for m in range(len(machines))]
        return {"sense": "min", "variables": [{"name": v, "binary": True} for v in var.values()] + [{"name": "makespan", "lb": 0}],
                "objective": {"makespan": 1}, "constraints": cons}
    raise ModelError(f"unknown instance kind {kind!r}")


def _scheduling_solution(data: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any] | None:
    from chil_core.capabilities.game import GameError, number

    jobs, machines = _jobs(data, "metadata.scheduling"), _machines(data, "metadata.scheduling")
    pairs: list[tuple[Any, Any]] = []  # (job, machine)
    sched, of = claim.get("schedule"), claim.get("machine_of", claim.get("assignment"))
    if sched is not None:
        if isinstance(sched, dict):
            items = list(sched.items())
        elif isinstance(sched, list) and len(sched) <= len(machines):
            items = list(zip(machines, sched, strict=False))
        else:
            raise ModelError("schedule must map machines to lists of jobs")
        for mach, js in items[: len(machines) + 1]:
            if not isinstance(js, list):
                raise ModelError(f"schedule of machine {str(mach)[:20]!r} must be a list of jobs")
            pairs += [(j, mach) for j in js[: len(jobs) + 1]]
    elif isinstance(of, dict):
        pairs = list(of.items())[: len(jobs) + 1]
    elif of is not None:
        raise ModelError("machine_of must map jobs to machines")
    else:
        return None
    out: dict[str, Any] = {f"x_{j}_{m}": 0 for j in range(len(jobs)) for m in range(len(machines))}
    loads = [0] * len(machines)
    for job, mach in pairs:
        if str(job) not in jobs or str(mach) not in machines:
            raise ModelError(f"{str(job)[:20]!r} on {str(mach)[:20]!r} names an unknown job or machine")
        j, m = jobs.index(str(job)), machines.index(str(mach))
        out[f"x_{j}_{m}"] += 1
        try:
            loads[m] += number(data["durations"][j], "duration")
        except GameError as exc:
            raise ModelError(str(exc)) from None
    out["makespan"] = max(loads)  # the schedule's makespan: what its objective is
    return out


def solution_of(kind: str, data: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any] | None:
    """The model solution a completion's structured answer means, or None when it gives none."""
    if kind == "knapsack":
        sel = claim.get("selected", claim.get("items"))
        if sel is None:
            return None
        if not isinstance(sel, list):
            raise ModelError("selected must be a list of items")
        names = [str(x) for x in data.get("items", [])] or [str(i) for i in range(len(data["values"]))]
        out = {f"x{i}": 0 for i in range(len(data["values"]))}
        for x in sel[: len(out) + 1]:
            key = str(x)
            if key in names:
                out[f"x{names.index(key)}"] = 1
            elif isinstance(x, int) and not isinstance(x, bool) and 0 <= x < len(out):
                out[f"x{x}"] = 1
            else:
                raise ModelError(f"selected item {key[:40]!r} is not an item")
        return out
    if kind == "assignment":
        a = claim.get("assignment")
        if a is None:
            return None
        costs = data["costs"]
        m, n = len(costs), len(costs[0])
        agents = [str(x) for x in data.get("agents", range(m))]
        tasks = [str(x) for x in data.get("tasks", range(n))]
        pairs = list(a.items()) if isinstance(a, dict) else list(enumerate(a)) if isinstance(a, list) else None
        if pairs is None:
            raise ModelError("assignment must map agents to tasks")
        out = {f"x_{i}_{j}": 0 for i in range(m) for j in range(n)}
        for ag, tk in pairs[: m + 1]:
            i = agents.index(str(ag)) if str(ag) in agents else None
            j = tasks.index(str(tk)) if str(tk) in tasks else None
            if i is None or j is None:
                raise ModelError(f"assignment {str(ag)[:20]!r} -> {str(tk)[:20]!r} names an unknown agent or task")
            out[f"x_{i}_{j}"] = 1
        return out
    if kind == "transportation":
        sh = claim.get("shipments")
        if sh is None:
            return None
        m, n = len(data["supply"]), len(data["demand"])
        if not isinstance(sh, list) or len(sh) != m or any(not isinstance(r, list) or len(r) != n for r in sh):
            raise ModelError(f"shipments must be a {m} x {n} matrix")
        return {f"x_{i}_{j}": sh[i][j] for i in range(m) for j in range(n)}
    if kind == "scheduling":
        return _scheduling_solution(data, claim)
    if kind == "shortest_path":
        path = claim.get("path")
        if path is None:
            return None
        if not isinstance(path, list) or len(path) < 2:
            raise ModelError("path must list at least two nodes")
        directed = data.get("directed", True) is not False
        arcs = []
        for e in data["edges"]:
            arcs.append((str(e[0]), str(e[1])))
            if not directed:
                arcs.append((str(e[1]), str(e[0])))
        out = {f"e{k}": 0 for k in range(len(arcs))}
        for a, b in zip(path[:-1], path[1:], strict=True):
            ks = [k for k, arc in enumerate(arcs) if arc == (str(a), str(b))]
            if not ks:
                raise ModelError(f"the path uses {a}->{b}, which is not an edge")
            out[f"e{ks[0]}"] += 1
        return out
    return None
