"""Shared fixtures: paths of the project's YANG directories and a compiled context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nvo3_netconf.schema import YangContext

ROOT = Path(__file__).resolve().parent.parent
YANG_DIR = ROOT / "yang"
STANDARD_DIR = YANG_DIR / "standard"
TEST_YANG_DIR = ROOT / "tests" / "yang" / "modules"


@pytest.fixture(scope="session")
def test_context() -> Iterator[YangContext]:
    """A context with the server modules and the test-only module ``nvo3-test``."""
    with YangContext.load([STANDARD_DIR, TEST_YANG_DIR]) as context:
        yield context
