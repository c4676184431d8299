"""Shared fixtures live in tests/fixtures/*; each is a pytest plugin owned by one area."""

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.database",
    "tests.fixtures.env",
    "tests.fixtures.processes",
    "tests.fixtures.office",
]
