"""chil-plugin-highs: the ``solver`` backend ``highs`` (HiGHS through highspy).  Light entry point:
highspy is imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_highs.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_highs.tool import HighsSolver

    register(HighsSolver)
