"""chil-plugin-gambit: the ``game`` backend ``gambit`` (pygambit's enummixed in rationals).  Light entry
point: pygambit is imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_gambit.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_gambit.tool import GambitGame

    register(GambitGame)
