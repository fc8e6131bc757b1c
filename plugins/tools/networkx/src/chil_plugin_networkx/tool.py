"""``NetworkXGraph``: the ``graph`` capability on NetworkX, one graph built per call for all its queries.

Flows, cuts and path lengths run on integer capacities (weights scaled by their common denominator)
and come back as exact rationals; centralities are NetworkX floats.  See
:mod:`chil_core.capabilities.graph` for the payload, the answers and the definitions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core.capabilities.graph import (
    MAX_EDGES,
    MAX_NODES,
    TIE_TOLERANCE,
    Graph,
    GraphTool,
    encode,
)


class NetworkXOptions(BaseModel):
    """``[tools.networkx]``."""

    model_config = ConfigDict(extra="forbid")

    max_nodes: int = Field(default=10_000, ge=1, le=MAX_NODES, description="Largest graph accepted, in nodes.")
    max_edges: int = Field(default=100_000, ge=1, le=MAX_EDGES, description="Largest graph accepted, in edges.")
    pagerank_alpha: float = Field(default=0.85, gt=0, lt=1, description="PageRank damping factor.")
    max_iter: int = Field(default=1000, ge=10, le=100_000, description="Iterations for eigenvector centrality and PageRank.")


class _Unknown(ValueError):
    pass


class NetworkXGraph(GraphTool):
    """The default ``graph`` backend: NetworkX."""

    name: ClassVar[str] = "networkx"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "NetworkX: centralities, reachability after removals, exact max flow / min cut / shortest paths."
    Options: ClassVar[type[BaseModel]] = NetworkXOptions
    priority: ClassVar[int] = 20
    requires_modules: ClassVar[dict[str, str]] = {"networkx": "networkx"}
    options: NetworkXOptions

    def start(self) -> None:
        import networkx

        self.nx = networkx

    def answer(self, graph: Graph, queries: list[dict[str, Any]]) -> dict[str, Any]:
        g = self._build(graph)
        answers = []
        cache: dict[str, dict[str, float]] = {}
        for q in queries:
            try:
                answers.append(self._answer(g, graph, q, cache))
            except _Unknown as exc:
                answers.append({"error": str(exc)})
            except self.nx.NetworkXException as exc:
                answers.append({"error": f"{type(exc).__name__}: {exc}"[:300]})
        return {"nodes": len(graph.nodes), "edges": len(graph.edges), "answers": answers}

    # ------------------------------------------------------------------------------------------
    def _build(self, graph: Graph) -> Any:
        g = self.nx.DiGraph() if graph.directed else self.nx.Graph()
        g.add_nodes_from(graph.nodes)
        g.add_edges_from((u, v, {"w": graph.int_weight((u, v)), "weight": float(w)}) for (u, v), w in graph.edges.items())
        g.graph["scale"] = graph.scale
        return g

    @staticmethod
    def _node(g: Any, q: dict[str, Any], key: str) -> str:
        name = q.get(key)
        name = str(name).strip() if isinstance(name, (str, int)) and not isinstance(name, bool) else None
        if name is None or name not in g:
            raise _Unknown(f"unknown node {str(q.get(key))[:50]!r} ({key})")
        return name

    def _centrality(self, g: Any, graph: Graph, measure: str) -> dict[str, float]:
        nx = self.nx
        if measure in ("degree", "in_degree", "out_degree"):
            # weighted degrees summed exactly, then rounded once (ties stay ties)
            deg = dict.fromkeys(graph.nodes, Fraction(0))
            for (u, v), w in graph.edges.items():
                if measure != "in_degree" or not graph.directed:
                    deg[u] += w
                if measure != "out_degree" or not graph.directed:
                    deg[v] += w
            return {n: float(d) for n, d in deg.items()}
        if measure == "betweenness":
            return nx.betweenness_centrality(g, normalized=True)
        if measure == "eigenvector":
            return nx.eigenvector_centrality(g, max_iter=self.options.max_iter, tol=1e-12, weight="weight")
        return nx.pagerank(g, alpha=self.options.pagerank_alpha, max_iter=self.options.max_iter, tol=1e-12, weight="weight")

    def _answer(self, g: Any, graph: Graph, q: dict[str, Any], cache: dict[str, dict[str, float]]) -> dict[str, Any]:
        nx = self.nx
        kind = q["q"]
        if kind == "centrality":
            measure = q["measure"]
            if measure not in cache:
                cache[measure] = self._centrality(g, graph, measure)
            scores = cache[measure]
            asked = q.get("nodes") or []
            if not isinstance(asked, list) or len(asked) > 64:
                raise _Unknown("nodes: a list of at most 64 node names")
            values = {self._node(g, {"n": n}, "n"): scores[str(n).strip()] for n in asked}
            top = max(scores.values())
            return {"values": values, "max": top, "argmax": sorted(n for n, s in scores.items() if s >= top - TIE_TOLERANCE)[:64]}
        s, t = self._node(g, q, "source"), self._node(g, q, "target")
        if kind == "reachable":
            removed = q.get("removed") or []
            if not isinstance(removed, list) or len(removed) > 1000:
                raise _Unknown("removed: a list of at most 1000 node names")
            gone = {self._node(g, {"n": n}, "n") for n in removed}
            if s in gone or t in gone:
                raise _Unknown("the source or the target is among the removed nodes")
            view = nx.subgraph_view(g, filter_node=lambda n: n not in gone) if gone else g
            return {"reachable": bool(nx.has_path(view, s, t))}
        if s == t:
            raise _Unknown("source and target are the same node")
        if kind in ("max_flow", "min_cut"):
            value = nx.maximum_flow_value(g, s, t, capacity="w") if kind == "max_flow" else nx.minimum_cut_value(g, s, t, capacity="w")
            return {"value": encode(Fraction(int(value), graph.scale))}
        weighted = q.get("weighted", True) is not False
        try:
            if weighted:
                length, path = nx.single_source_dijkstra(g, s, t, weight="w")
                return {"length": encode(Fraction(int(length), graph.scale)), "path": path}
            path = nx.shortest_path(g, s, t)
            return {"length": encode(Fraction(len(path) - 1)), "path": path}
        except nx.NetworkXNoPath:
            return {"length": None, "path": []}
