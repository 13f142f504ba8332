"""The sandbox contract (contract.py) for the local backend, plus what only it promises."""

from __future__ import annotations

import pytest

from conftest import require_backend
from contract import *  # noqa: F401,F403 - the shared tests, collected here for this backend
from sandbox.local import namespaces_available


@pytest.fixture
def backend() -> str:
    require_backend("local")
    return "local"


def test_local_reports_namespaces():
    # Not a requirement, a record: CI's log says which local isolation the contract ran under.
    print(f"local backend namespaces: {namespaces_available()}")
