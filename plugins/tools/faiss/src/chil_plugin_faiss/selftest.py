"""``chil doctor``'s self-test cases for vector_index:faiss: the shared cases of the capability
(``chil_core.testing.selfcases``: gold answers, mutated negatives, hostile payloads).
The index is the user's (``[tools.faiss] path``): the cases check the contract's shape on it, or the
clear error without one.
"""

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.testing.selfcases import capability_cases

    return capability_cases("vector_index:faiss")
