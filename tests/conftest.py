"""Shared fixtures live in tests/support/fixtures/*; each is a pytest plugin owned by one area."""

pytest_plugins = [
    "tests.support.fixtures.servers",
    "tests.support.fixtures.database",
    "tests.support.fixtures.env",
    "tests.support.fixtures.processes",
]
