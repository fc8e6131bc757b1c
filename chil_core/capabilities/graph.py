"""The ``graph`` capability: questions about one weighted stakeholder graph, answered in one call.

One op, ``query`` (batched per graph: the graph is built once for every question about it)::

    payload = {"graph": {"directed": true,                      # default true
                         "nodes": ["A", "B", ...],             # optional: inferred from the edges
                         "edges": [["A", "B", 3], {"source": "B", "target": "C", "weight": "5/2",
                                                   "kind": "money"}, ...]},   # weight default 1
               "queries": [q, ...]}
    q = {"q": "centrality", "measure": "degree" | "in_degree" | "out_degree" | "betweenness"
                                       | "eigenvector" | "pagerank", "nodes": ["A", "B"]}
      | {"q": "reachable", "source": "C", "target": "D", "removed": ["B"]}
      | {"q": "max_flow", "source": "X", "target": "Y"}        # capacities = weights
      | {"q": "min_cut", "source": "X", "target": "Y"}         # capacity of a minimum X-Y cut
      | {"q": "shortest_path", "source": "X", "target": "Y", "weighted": true}
    value   = {"nodes": n, "edges": m, "answers": [a, ...]}    # one per query, in order
    a = {"values": {"A": 0.31, ...}, "max": 0.4, "argmax": ["C"]}        # centrality (floats)
      | {"reachable": bool}
      | {"value": "p/q"}                                                  # max_flow, min_cut: exact
      | {"length": "p/q" | null, "path": ["X", ..., "Y"]}                 # null: no path
      | {"error": "unknown node 'Z'"}                                     # this query only

Weights are finite non-negative rationals (numbers or ``"p/q"``); flows, cuts and path lengths are
computed on integers (weights scaled by the least common denominator), so they are exact.
Centralities are floats (NetworkX); ``argmax`` lists every node within :data:`TIE_TOLERANCE` of the
maximum.  Parallel edges are merged by adding their weights.  ``max_edges`` / ``max_nodes`` bound a
graph before anything is built: a larger one is rejected with a :class:`GraphError` naming the bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult

MAX_NODES = 50_000
MAX_EDGES = 200_000
MAX_QUERIES = 256
MAX_NAME = 200
MAX_DENOMINATOR = 10**12
TIE_TOLERANCE = 1e-9
MEASURES: tuple[str, ...] = ("degree", "in_degree", "out_degree", "betweenness", "eigenvector", "pagerank")
QUERIES: tuple[str, ...] = ("centrality", "reachable", "max_flow", "min_cut", "shortest_path")


class GraphError(ValueError):
    """A malformed or over-sized graph payload; the message names the offending field."""


@dataclass(slots=True)
class Graph:
    """A validated graph: node names in order, merged edges with exact weights, the integer scale."""

    directed: bool
    nodes: list[str]
    edges: dict[tuple[str, str], Fraction]
    scale: int  # every weight * scale is an integer

    def int_weight(self, edge: tuple[str, str]) -> int:
        return int(self.edges[edge] * self.scale)


def parse_weight(value: Any, where: str) -> Fraction:
    """A finite non-negative rational from a number or ``"p/q"``; ``GraphError`` otherwise."""
    if isinstance(value, bool):
        raise GraphError(f"{where}: must be a number, got a boolean")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise GraphError(f"{where}: must be finite, got {value!r}")
            w = Fraction(value).limit_denominator(MAX_DENOMINATOR)
        elif isinstance(value, (int, str)):
            if isinstance(value, str) and len(value) > 64:
                raise GraphError(f"{where}: a number of at most 64 characters")
            w = Fraction(value)
        else:
            raise GraphError(f"{where}: must be a number or a 'p/q' string, got {type(value).__name__}")
    except (ValueError, ZeroDivisionError) as exc:
        if isinstance(exc, GraphError):
            raise
        raise GraphError(f"{where}: not a number: {str(value)[:50]!r}") from None
    if w < 0:
        raise GraphError(f"{where}: must be >= 0, got {value!r}")
    if w.denominator > MAX_DENOMINATOR or abs(w.numerator) > 10**30:
        raise GraphError(f"{where}: too large or too precise: {str(value)[:50]!r}")
    return w


def _node(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise GraphError(f"{where}: a node is a string or an integer, got {type(value).__name__}")
    text = str(value).strip()
    if not text or len(text) > MAX_NAME:
        raise GraphError(f"{where}: a node name has 1..{MAX_NAME} characters")
    return text


def parse_graph(graph: Any, where: str = "graph", max_nodes: int = MAX_NODES, max_edges: int = MAX_EDGES) -> Graph:
    """Validate a graph; sizes are checked before anything is read edge by edge."""
    if not isinstance(graph, dict):
        raise GraphError(f"{where}: must be an object with edges (and optional nodes, directed)")
    edges = graph.get("edges", [])
    nodes = graph.get("nodes")
    if not isinstance(edges, list):
        raise GraphError(f"{where}.edges: must be a list")
    if len(edges) > max_edges:
        raise GraphError(f"{where}.edges: {len(edges)} edges exceed the configured bound max_edges={max_edges}")
    if nodes is not None and (not isinstance(nodes, list)):
        raise GraphError(f"{where}.nodes: must be a list")
    if nodes is not None and len(nodes) > max_nodes:
        raise GraphError(f"{where}.nodes: {len(nodes)} nodes exceed the configured bound max_nodes={max_nodes}")
    directed = graph.get("directed", True)
    if not isinstance(directed, bool):
        raise GraphError(f"{where}.directed: must be true or false")
    names: dict[str, None] = {}
    for i, n in enumerate(nodes or []):
        names[_node(n, f"{where}.nodes[{i}]")] = None
    declared = nodes is not None
    merged: dict[tuple[str, str], Fraction] = {}
    for i, e in enumerate(edges):
        at = f"{where}.edges[{i}]"
        if isinstance(e, dict):
            u, v, w = e.get("source"), e.get("target"), e.get("weight", 1)
        elif isinstance(e, list) and len(e) in (2, 3):
            u, v, w = e[0], e[1], (e[2] if len(e) == 3 else 1)
        else:
            raise GraphError(f"{at}: an edge is [source, target, weight?] or {{source, target, weight}}")
        u, v = _node(u, f"{at}.source"), _node(v, f"{at}.target")
        weight = parse_weight(w, f"{at}.weight")
        for x in (u, v):
            if x not in names:
                if declared:
                    raise GraphError(f"{at}: node {x[:50]!r} is not in {where}.nodes")
                names[x] = None
        key = (u, v) if directed or u <= v else (v, u)
        merged[key] = merged.get(key, Fraction(0)) + weight
    if len(names) > max_nodes:
        raise GraphError(f"{where}: {len(names)} nodes exceed the configured bound max_nodes={max_nodes}")
    if not names:
        raise GraphError(f"{where}: has no nodes")
    scale = 1
    for w in merged.values():
        scale = math.lcm(scale, w.denominator)
        if scale > MAX_DENOMINATOR:
            raise GraphError(f"{where}.edges: the weights' common denominator exceeds {MAX_DENOMINATOR}")
    return Graph(directed, list(names), merged, scale)


def parse_queries(queries: Any, where: str = "queries") -> list[dict[str, Any]]:
    """Shape checks only (names are checked against the graph per query, as per-query errors)."""
    if not isinstance(queries, list):
        raise GraphError(f"{where}: must be a list")
    if len(queries) > MAX_QUERIES:
        raise GraphError(f"{where}: {len(queries)} queries exceed {MAX_QUERIES}")
    for i, q in enumerate(queries):
        if not isinstance(q, dict) or q.get("q") not in QUERIES:
            raise GraphError(f"{where}[{i}].q: must be one of {', '.join(QUERIES)}")
        if q["q"] == "centrality" and q.get("measure") not in MEASURES:
            raise GraphError(f"{where}[{i}].measure: must be one of {', '.join(MEASURES)}")
    return queries


def encode(x: Fraction | None) -> str | None:
    if x is None:
        return None
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


class GraphTool(Tool):
    """Base of the ``graph`` backends: answers ``query`` with :meth:`answer` of the validated graph
    and queries (bounded by the backend's ``max_nodes`` / ``max_edges`` options when it has them)."""

    capability: ClassVar[str] = "graph"
    ops: ClassVar[frozenset[str]] = frozenset({"query"})
    max_batch: ClassVar[int] = 16

    def answer(self, graph: Graph, queries: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        if call.op != "query":
            return ToolResult.failure(f"graph has no op {call.op!r}; ops: query")
        payload = call.payload if isinstance(call.payload, dict) else {}
        try:
            graph = parse_graph(payload.get("graph"), "payload.graph", getattr(self.options, "max_nodes", MAX_NODES),
                                getattr(self.options, "max_edges", MAX_EDGES))
            queries = parse_queries(payload.get("queries", []), "payload.queries")
        except GraphError as exc:
            return ToolResult.failure(str(exc))
        return self.answer(graph, queries)
