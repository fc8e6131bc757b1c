"""The gambit game backend against the shared game conformance suite (sample games, hostile payloads,
agreement with the other installed game backends)."""

from chil_plugin_gambit.tool import GambitGame

from chil_core.testing.game import GameConformance


class TestGambitGame(GameConformance):
    tool_class = GambitGame
