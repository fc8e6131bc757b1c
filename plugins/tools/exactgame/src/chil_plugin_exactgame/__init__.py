"""chil-plugin-exactgame: the ``game`` backend ``exact`` (own rational vertex enumeration, no
dependency).  Light entry point: the tool module is imported inside the hook."""

from chil_core import hookimpl
from chil_plugin_exactgame.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_exactgame.tool import ExactGame

    register(ExactGame)
