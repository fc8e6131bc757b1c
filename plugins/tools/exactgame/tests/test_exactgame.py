"""The exactgame game backend against the shared game conformance suite (sample games, hostile payloads,
agreement with the other installed game backends)."""

from chil_plugin_exactgame.tool import ExactGame

from chil_core.testing.game import GameConformance


class TestExactGame(GameConformance):
    tool_class = ExactGame
