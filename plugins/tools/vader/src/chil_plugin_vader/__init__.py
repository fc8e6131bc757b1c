"""chil-plugin-vader: the ``sentiment:vader`` backend.  Light entry point: the library loads in ``Tool.start``."""

from chil_core import hookimpl
from chil_plugin_vader.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_vader.tool import VaderSentiment as Tool

    register(Tool)
