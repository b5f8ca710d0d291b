"""Fixtures shared with the functional tests (the test accounts)."""

from tests.functional.conftest import users  # noqa: F401  # a fixture, used by name
