"""The guides name only what exists: docs/admin.md's configuration reference is the settings model, key
for key and default for default; every `mailintake <command> [--option]` and every `[section] key` that
README.md and docs/*.md name exists in the CLI and in the settings model; the README stays short."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import click
import pytest
from pydantic import BaseModel, TypeAdapter

from mailintake.cli import cli
from mailintake.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [ROOT / "README.md", ROOT / "docs" / "office.md", ROOT / "docs" / "admin.md", ROOT / "docs" / "development.md"]
#: options of the group itself, allowed before the command
GLOBAL_OPTIONS = {"-c", "--config", "-v", "--verbose", "-q", "--quiet", "-h", "--help", "--version"}
#: where a code span or a line of a code block starts a mailintake command (not `-u mailintake`, not paths)
COMMAND = re.compile(r"(?:^|uv run |\.venv/bin/|/bin/|&& |; |\$ )mailintake((?: +[^ `]+)*)")
KEY = re.compile(r"\[([a-z_]+)\] ([a-z_]+)")


def sections() -> dict[str, type[BaseModel]]:
    """The settings model's sections: [mailbox], [smtp], …"""
    out: dict[str, type[BaseModel]] = {}
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out[name] = field.annotation
    return out


def reference() -> dict[str, dict[str, str]]:
    """docs/admin.md's reference: {section: {key: default cell}}."""
    text = (ROOT / "docs" / "admin.md").read_text(encoding="utf-8")
    body = text.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in body.splitlines():
        if heading := re.fullmatch(r"### `\[([a-z_]+)\]`", line):
            current = out.setdefault(heading.group(1), {})
        elif (row := re.match(r"\| `([a-z_]+)` \| ([^|]+) \|", line)) and current is not None:
            assert row.group(1) not in current, f"{row.group(1)} twice"
            current[row.group(1)] = row.group(2).strip()
    return out


def code_lines(text: str) -> list[str]:
    """Every inline code span and every line of a fenced code block (comments cut off)."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            out.append(line.split(" #", 1)[0].strip())
        else:
            out.extend(re.findall(r"`([^`]+)`", line.replace("\\|", "|")))
    return out


def commands_named(text: str) -> list[list[str]]:
    """The words after `mailintake` in each command the text names, brackets and alternatives split."""
    found = []
    for line in code_lines(text):
        for match in COMMAND.finditer(line):
            words = re.split(r"""[ |\[\]'"]+""", match.group(1).strip())
            found.append([w.split("=", 1)[0] for w in words if w])
    return found


def command_words(words: list[str]) -> list[str]:
    """The words from the command on: the group's own options (and the path after --config) dropped."""
    rest = list(words)
    while rest and rest[0] in GLOBAL_OPTIONS:
        option = rest.pop(0)
        if option in ("-c", "--config") and rest:
            rest.pop(0)
    return rest


def test_command_words_skip_the_groups_options() -> None:
    assert command_words(["--config", "/etc/m.toml", "-v", "status", "--json"]) == ["status", "--json"]
    assert command_words(["--quiet", "poll"]) == ["poll"]
    assert command_words(["--help"]) == []


def test_the_reference_lists_every_key_of_the_settings_model_and_no_other() -> None:
    documented = reference()
    assert set(documented) == set(sections())
    for name, model in sections().items():
        assert set(documented[name]) == set(model.model_fields), f"[{name}]"


@pytest.mark.parametrize("section", sorted(sections()))
def test_each_default_in_the_reference_is_the_models(section: str) -> None:
    model = sections()[section]
    for key, cell in reference()[section].items():
        field = model.model_fields[key]
        if cell == "*required*":
            assert field.is_required(), f"[{section}] {key}"
            continue
        expected = field.get_default(call_default_factory=True)
        if cell == "*none*":
            assert expected is None, f"[{section}] {key}"
            continue
        literal = re.fullmatch(r"`(.+)`", cell)
        assert literal, f"[{section}] {key}: {cell!r} is not a `TOML value`"
        value = tomllib.loads(f"v = {literal.group(1)}")["v"]
        kind: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        adapter: TypeAdapter[Any] = TypeAdapter(kind)
        assert adapter.validate_python(value) == expected, f"[{section}] {key}"


def test_reference_shape() -> None:
    documented = reference()
    assert documented["mailbox"]["host"] == '`"imap.qq.com"`'
    assert documented["campaign"]["deadline"] == "*required*"
    assert sum(len(keys) for keys in documented.values()) == sum(len(m.model_fields) for m in sections().values())


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_command_and_option_a_guide_names_exists(guide: Path) -> None:
    named = commands_named(guide.read_text(encoding="utf-8"))
    assert named, f"{guide.name} names no command"
    ctx = click.Context(cli)
    for words in named:
        rest = command_words(words)
        if not rest:
            continue
        command = cli.get_command(ctx, rest[0])
        assert command is not None, f"{guide.name}: mailintake {rest[0]} does not exist"
        options = rest[1:]
        if isinstance(command, click.Group) and options and not options[0].startswith("-"):
            sub = command.get_command(ctx, options[0])
            assert sub is not None, f"{guide.name}: mailintake {rest[0]} {options[0]} does not exist"
            command, options = sub, options[1:]
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
        for option in options:
            if option.startswith("--"):
                assert option in known, f"{guide.name}: mailintake {' '.join(rest)}: {option} does not exist"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_section_key_a_guide_names_exists(guide: Path) -> None:
    text = guide.read_text(encoding="utf-8")
    model = sections()
    for section, key in KEY.findall(text):
        assert section in model, f"{guide.name}: [{section}] is not a section"
        assert key in model[section].model_fields, f"{guide.name}: [{section}] {key} does not exist"
    for block in re.findall(r"```toml\n(.*?)```", text, flags=re.S):
        for section, table in tomllib.loads(block).items():
            assert section in model, f"{guide.name}: [{section}] is not a section"
            unknown = set(table) - set(model[section].model_fields)
            assert not unknown, f"{guide.name}: [{section}] {sorted(unknown)} do not exist"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_environment_variable_a_guide_names_is_a_key(guide: Path) -> None:
    model = sections()
    for section, key in re.findall(r"MAILINTAKE_([A-Z]+)__([A-Z_]+)", guide.read_text(encoding="utf-8")):
        assert key.lower() in model[section.lower()].model_fields, f"{guide.name}: MAILINTAKE_{section}__{key}"


def test_the_readme_is_short_and_links_the_guides() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for link in ("docs/office.md", "docs/admin.md", "docs/development.md", "CHANGELOG.md", "benchmarks/README.md"):
        assert f"]({link})" in readme, link
        assert (ROOT / link).is_file(), link


@pytest.mark.parametrize("guide", [*GUIDES, ROOT / "CHANGELOG.md"], ids=lambda p: p.name)
def test_every_relative_link_and_image_of_a_guide_resolves(guide: Path) -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", guide.read_text(encoding="utf-8"))
    local = [t for t in targets if "://" not in t]
    assert local, guide.name
    for target in local:
        assert (guide.parent / target).is_file(), f"{guide.name}: {target}"


#: a file or folder of the repository named in a code span: `mailintake/intake/fetch.py`, `intake/record.py`,
#: `tests/scenarios/test_crash.py::test_name`, `config/templates/`
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]*?(?:\.(?:py|md|toml|csv|sh|service|j2|html))?)(?:::(\w+))?`")


#: where a path a guide names may start
BASES = [ROOT, ROOT / "mailintake", ROOT / "tests",
         *(d for top in ("mailintake", "tests") for d in sorted((ROOT / top).iterdir()) if d.is_dir())]
#: what looks like a path but names no file of the repository: the office's own configuration, a MIME type
NOT_FILES = {"config/mailintake.toml", "application/octet-stream", "multipart/report"}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_file_and_test_a_guide_names_exists(guide: Path) -> None:
    """Paths are from the repository's root, from mailintake/ or tests/, or from one of their folders (a code
    map row names `xlsx/` inside `mailintake/report/`)."""
    missing = []
    for path, test in PATH.findall(guide.read_text(encoding="utf-8")):
        if path.startswith(("var/", "/", "objects/", "__MACOSX/", "../")) or "<" in path or path in NOT_FILES:
            continue
        found = [base / path for base in BASES if (base / path).exists()]
        if not found:
            missing.append(path)
        elif test and not any(f"def {test}(" in f.read_text(encoding="utf-8") for f in found if f.is_file()):
            missing.append(f"{path}::{test}")
    assert missing == [], guide.name
