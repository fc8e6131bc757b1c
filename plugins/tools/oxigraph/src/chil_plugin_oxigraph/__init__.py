"""chil-plugin-oxigraph: the Oxigraph (RDF) ``fact_store`` backend.  pyoxigraph loads in ``start``."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_oxigraph.store import OxigraphFactStore

    register(OxigraphFactStore)
