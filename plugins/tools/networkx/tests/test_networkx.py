"""NetworkX graph backend: the graph conformance suite, and every answer against an independent
computation in plain Python (BFS, Dijkstra, Edmonds–Karp, Brandes, power iteration) on generated graphs."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from chil_plugin_networkx.tool import NetworkXGraph

from chil_core.testing.graph import (
    GraphConformance,
    adjacency,
    betweenness,
    dijkstra,
    hops,
    max_flow,
    pagerank,
    query_call,
    random_graph,
    reachable,
)


class TestNetworkXConformance(GraphConformance):
    tool_class = NetworkXGraph
    options = {"max_edges": 50}


@pytest.mark.parametrize("seed", range(40))
def test_answers_equal_an_independent_computation(seed: int) -> None:
    rng = random.Random(seed)
    nodes, edges = random_graph(rng)
    adj = adjacency(edges, nodes)
    s, t, r = rng.sample(nodes, 3)
    graph = {"nodes": nodes, "edges": [[u, v, f"{w.numerator}/{w.denominator}"] for (u, v), w in edges.items()]}
    queries = [{"q": "max_flow", "source": s, "target": t}, {"q": "min_cut", "source": s, "target": t},
               {"q": "shortest_path", "source": s, "target": t}, {"q": "shortest_path", "source": s, "target": t, "weighted": False},
               {"q": "reachable", "source": s, "target": t}, {"q": "reachable", "source": s, "target": t, "removed": [r]},
               {"q": "centrality", "measure": "betweenness", "nodes": nodes},
               {"q": "centrality", "measure": "pagerank", "nodes": nodes},
               {"q": "centrality", "measure": "in_degree", "nodes": nodes}]
    tool = NetworkXGraph()
    tool.start()
    got = tool.run_batch([query_call(graph, queries)])[0]["answers"]
    flow = max_flow(adj, s, t)
    assert Fraction(got[0]["value"]) == flow and Fraction(got[1]["value"]) == flow
    d = dijkstra(adj, s, t)
    assert (got[2]["length"] is None and d is None) or Fraction(got[2]["length"]) == d
    h = hops(adj, s, t)
    assert (got[3]["length"] is None and h is None) or Fraction(got[3]["length"]) == h
    assert got[4]["reachable"] == reachable(adj, s, t)
    assert got[5]["reachable"] == reachable(adj, s, t, {r})
    bc = betweenness(adj, nodes)
    assert all(abs(got[6]["values"][v] - bc[v]) < 1e-9 for v in nodes)
    pr = pagerank(adj, nodes)
    assert all(abs(got[7]["values"][v] - pr[v]) < 1e-8 for v in nodes), (got[7]["values"], pr)
    indeg = {v: float(sum(w for (_, b), w in edges.items() if b == v)) for v in nodes}
    assert got[8]["values"] == indeg
    assert set(got[8]["argmax"]) == {v for v in nodes if indeg[v] == max(indeg.values())}
