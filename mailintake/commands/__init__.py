"""CLI commands, one module each, imported lazily by mailintake.cli."""
