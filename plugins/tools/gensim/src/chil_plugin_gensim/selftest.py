"""``chil doctor``'s self-test cases for embedding:gensim: the shared cases of the capability
(``chil_core.testing.selfcases``: gold answers, mutated negatives, hostile payloads).
Its answers need a trained model (``[tools.gensim] model = ...``, written by ``chil index --embedding
gensim``): without one every case fails with that message, which is what ``chil doctor`` should say.
"""

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.testing.selfcases import capability_cases

    return capability_cases("embedding:gensim")
