"""chil-plugin-faiss: the ``vector_index:faiss`` backend and ``chil index``.  Light entry point: faiss
and numpy load when the tool starts or the command runs."""

from chil_core import hookimpl
from chil_plugin_faiss.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_faiss.tool import FaissIndex

    register(FaissIndex)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    from chil_plugin_faiss.command import index_command

    cli.add_command(index_command, "index")
