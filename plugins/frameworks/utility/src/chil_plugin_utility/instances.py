"""Structured optimisation instances in ``metadata`` turned into ``solver`` models, and a completion's
answer for them turned into a solution of that model.

* ``knapsack``: ``{"values": [...], "weights": [...], "capacity": C, "items": [names]?}``; the completion
  names the chosen items: ``{"selected": ["a", "c"]}`` (names or 0-based indices).
* ``assignment``: ``{"costs": [[...]], "agents": [...]?, "tasks": [...]?, "sense": "min"}`` (square or
  more tasks than agents); ``{"assignment": {"agent": "task", ...}}`` or ``[task index per agent]``.
* ``transportation``: ``{"supply": [...], "demand": [...], "costs": [[...]]}``; ``{"shipments": [[...]]}``.
* ``shortest_path``: ``{"edges": [[u, v, w], ...], "source": s, "target": t, "directed": true}``;
  ``{"path": [s, ..., t]}``.
"""

from __future__ import annotations

from typing import Any

from chil_core.capabilities.solver import ModelError

KINDS = ("knapsack", "assignment", "transportation", "shortest_path")


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
    raise ModelError(f"unknown instance kind {kind!r}")


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
