"""Tests of one package each: tests/unit/<package>/ mirrors mailintake/<package>/ (and parsers/)."""
