"""chil-plugin-highs: the ``solver`` backend ``highs`` (HiGHS through highspy).  Light entry point:
highspy is imported when the tool starts."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_highs.tool import HighsSolver

    register(HighsSolver)
