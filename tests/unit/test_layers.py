"""The import graph, derived from the source with ``ast``, has no circle and no arrow back up.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING:``, and the string targets of
``importlib.import_module`` (the CLI's lazy commands). Importing ``a.b.c`` also runs ``a/__init__`` and
``a/b/__init__``, so those are edges too. Two checks:

* **units** — a folder is one unit (``mailintake/report/``, ``mailintake/report/xlsx/``, ``parsers/``,
  ``benchmarks/``); a plain module at the top of ``mailintake/`` is a unit of its own. No two units import
  each other, directly or round a longer circle, so the units fall into layers;
* **modules** — inside a folder too, no two modules import each other (``intake/read`` → ``decide`` →
  ``parse`` → ``read`` was one), and no module imports the package that holds it (its ``__init__`` sits
  above it), unless that ``__init__`` imports nothing (``mailintake.__version__``).

tests/ are checked the same way (their folders are units), so a helper that reaches back into a test
module shows up too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: source trees whose modules are checked; benchmarks/ is a folder of scripts that import each other by bare name
TREES = ("mailintake", "parsers", "benchmarks", "tests")
#: the one folder whose plain modules are units of their own (cli, errors, …)
FLAT_ROOT = "mailintake"


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    #: module -> {imported module: first line that imports it}
    edges: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(graph: Graph, name: str) -> bool:
    return graph.modules.get(name, Path()).name == "__init__.py"


def package_of(graph: Graph, name: str) -> str:
    """The package a module's relative imports start from."""
    return name if is_package(graph, name) else name.rpartition(".")[0]


def known(graph: Graph, dotted: str) -> str | None:
    """The longest prefix of ``dotted`` that is one of our modules (``a.b.C`` → ``a.b``)."""
    while dotted:
        if dotted in graph.modules:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def targets(graph: Graph, name: str, node: ast.AST) -> Iterator[str]:
    """The modules of ours one import node runs (the module itself, not yet its parents)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            top = alias.name.split(".")[0]
            if name.startswith("benchmarks.") and f"benchmarks.{top}" in graph.modules:  # a sibling by bare name
                yield f"benchmarks.{alias.name}"
            elif found := known(graph, alias.name):
                yield found
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = package_of(graph, name).split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
            if name.startswith("benchmarks.") and f"benchmarks.{source.split('.')[0]}" in graph.modules:
                source = f"benchmarks.{source}"
        for alias in node.names:
            if f"{source}.{alias.name}" in graph.modules:  # from package import submodule
                yield f"{source}.{alias.name}"
            elif found := known(graph, source):
                yield found
    elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
        argument = node.args[0] if node.args else None
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            if found := known(graph, argument.value):
                yield found
        elif isinstance(argument, ast.JoinedStr) and isinstance(argument.values[0], ast.Constant):
            prefix = str(argument.values[0].value)  # f"mailintake.commands.{name}": every module it can name
            yield from (module for module in graph.modules if module.startswith(prefix))


def build() -> Graph:
    graph = Graph()
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if ".venv" not in path.parts:
                graph.modules[module_name(path)] = path
    for name, path in graph.modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            for target in targets(graph, name, node):
                chain = target.split(".")
                # importing a.b.c runs a/__init__ and a/b/__init__ first (those not already above the importer)
                for depth in range(1, len(chain) + 1):
                    step = ".".join(chain[:depth])
                    implicit_above = depth < len(chain) and name.startswith(step + ".")
                    if step in graph.modules and step != name and not implicit_above:
                        graph.edges[name].setdefault(step, getattr(node, "lineno", 0))
    return graph


def unit_of(graph: Graph, name: str) -> str:
    """A folder; a plain module directly in mailintake/ is a unit of its own."""
    if is_package(graph, name):
        return name
    parent = name.rpartition(".")[0]
    return name if parent == FLAT_ROOT else parent


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def explain(graph: Graph, members: list[str], unit: bool) -> list[str]:
    """The imports that hold a circle together, as ``module:line -> module`` lines."""
    inside = set(members)
    lines = []
    for source, imported in sorted(graph.edges.items()):
        for target, line in sorted(imported.items()):
            a, b = (unit_of(graph, source), unit_of(graph, target)) if unit else (source, target)
            if a in inside and b in inside and a != b:
                lines.append(f"{graph.modules[source].relative_to(ROOT)}:{line} -> {target}")
    return lines


GRAPH = build()


def test_the_graph_sees_every_kind_of_import() -> None:
    """The checks below are only as good as the graph: it holds lazy, TYPE_CHECKING and import_module edges."""
    edges = GRAPH.edges
    assert "mailintake.commands.poll" in edges["mailintake.cli"]  # importlib.import_module(f"...{name}")
    assert "mailintake.intake.cycle" in edges["mailintake.commands.poll"]  # inside the command function
    assert "mailintake.config.settings" in edges["mailintake.db.locking"]  # under if TYPE_CHECKING:
    assert "benchmarks.common" in edges["benchmarks.burst"]  # a sibling script by its bare name
    assert "mailintake.report" in edges["mailintake.commands.report"]  # a package's __init__ runs first


def test_no_two_folders_import_each_other() -> None:
    units: dict[str, set[str]] = defaultdict(set)
    for source, imported in GRAPH.edges.items():
        for target in imported:
            a, b = unit_of(GRAPH, source), unit_of(GRAPH, target)
            if a != b:
                units[a].add(b)
    found = circles(units)
    assert found == [], "\n\n".join("circle between " + ", ".join(c) + ":\n  " + "\n  ".join(explain(GRAPH, c, True))
                                    for c in found)


def test_no_two_modules_import_each_other() -> None:
    found = circles({source: set(imported) for source, imported in GRAPH.edges.items()})
    assert found == [], "\n\n".join("circle between " + ", ".join(c) + ":\n  " + "\n  ".join(explain(GRAPH, c, False))
                                    for c in found)


def test_no_module_imports_the_package_above_it() -> None:
    upward = [f"{GRAPH.modules[source].relative_to(ROOT)}:{line} -> {target}"
              for source, imported in sorted(GRAPH.edges.items())
              for target, line in sorted(imported.items())
              if source.startswith(target + ".") and GRAPH.edges.get(target)]
    assert upward == []


def test_at_most_six_plain_modules_at_the_top_and_no_second_poll() -> None:
    top = sorted(path.name for path in (ROOT / "mailintake").glob("*.py"))
    assert len(top) <= 6, top
    assert not [name for name in GRAPH.modules if name.rpartition(".")[2].startswith("quick")]
    assert not [path for path in (ROOT / "mailintake").rglob("*.py") if "CDLL" in path.read_text("utf-8")
                and ("libpq" in path.read_text("utf-8") or "sqlite" in path.read_text("utf-8"))]


def test_parsers_stay_pure_and_the_product_needs_no_test_code() -> None:
    """parsers/ imports nothing of mailintake (bytes in, records out); mailintake/ imports nothing of tests/."""
    wrong = [f"{source} -> {target}" for source, imported in sorted(GRAPH.edges.items()) for target in sorted(imported)
             if (source.startswith("parsers") and target.startswith("mailintake"))
             or (source.startswith("mailintake") and target.startswith("tests"))]
    assert wrong == []
