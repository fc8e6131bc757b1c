"""chil-plugin-powerindex: the ``voting`` backend (exact power indices by dynamic programming)."""

from chil_core import hookimpl
from chil_plugin_powerindex.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_powerindex.tool import PowerIndexTool

    register(PowerIndexTool)
