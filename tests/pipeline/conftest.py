"""The pipeline tests' shared fixture: the pinned sample clip (fetched once into the cache)."""

import pytest


@pytest.fixture(scope="session")
def clip():
    from vidpose import store

    return store.path("sample-sports2d", quiet=True)
