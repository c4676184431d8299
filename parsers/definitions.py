"""Form definitions (titles, labels, keys, required, narrative), loaded from config/forms.toml."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: a wheel ships its own copy beside this module; a checkout reads config/forms.toml
_PACKAGED = Path(__file__).resolve().parent / "forms.toml"
DEFAULT_PATH = _PACKAGED if _PACKAGED.exists() else Path(__file__).resolve().parent.parent / "config" / "forms.toml"


@dataclass(frozen=True)
class FieldDefinition:
    """One box of a form."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    narrative: bool = False
    above: bool = False
    date_line: bool = False
    drop_lines: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.label, *self.aliases)


@dataclass(frozen=True)
class FormDefinition:
    """One table (表N) of the call."""

    table: int
    title: str
    name: str
    fields: tuple[FieldDefinition, ...]
    keywords: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def field(self, key: str) -> FieldDefinition:
        for item in self.fields:
            if item.key == key:
                return item
        raise KeyError(f"表{self.table} has no field {key!r}")

    @property
    def keys(self) -> list[str]:
        return [item.key for item in self.fields]

    @property
    def display(self) -> str:
        """How messages name the form: 表1（改革创新标兵单位申报表）."""
        return f"表{self.table}（{self.title}）"


@dataclass(frozen=True)
class FormSet:
    """All forms of a call plus the placeholders stripped from every value."""

    tables: list[FormDefinition]
    placeholders: tuple[str, ...] = field(default=())

    def get(self, table: int) -> FormDefinition:
        for form in self.tables:
            if form.table == table:
                return form
        raise KeyError(f"no form 表{table}")

    def label(self, table: int, key: str) -> str:
        """The Chinese label of a field, e.g. label(1, "summary") -> "改革创新项目概述及成效简介"."""
        return self.get(table).field(key).label


class DefinitionError(ValueError):
    """Raised when forms.toml is malformed."""


def _field(raw: dict[str, Any], table: int) -> FieldDefinition:
    try:
        return FieldDefinition(
            key=str(raw["key"]),
            label=str(raw["label"]),
            aliases=tuple(str(a) for a in raw.get("aliases", ())),
            required=bool(raw.get("required", False)),
            narrative=bool(raw.get("narrative", False)),
            above=bool(raw.get("above", False)),
            date_line=bool(raw.get("date_line", False)),
            drop_lines=tuple(str(d) for d in raw.get("drop_lines", ())),
        )
    except KeyError as exc:
        raise DefinitionError(f"表{table}: a field lacks {exc.args[0]!r}") from exc


def parse_definitions(data: dict[str, Any]) -> FormSet:
    """Build a FormSet from the decoded TOML document."""
    tables: list[FormDefinition] = []
    for raw in data.get("table", []):
        try:
            number = int(raw["table"])
            tables.append(
                FormDefinition(
                    table=number,
                    title=str(raw["title"]),
                    name=str(raw.get("name", raw["title"])),
                    fields=tuple(_field(f, number) for f in raw.get("field", [])),
                    keywords=tuple(str(k) for k in raw.get("keywords", ())),
                    ignore=tuple(str(k) for k in raw.get("ignore", ())),
                )
            )
        except KeyError as exc:
            raise DefinitionError(f"a table lacks {exc.args[0]!r}") from exc
    if not tables:
        raise DefinitionError("no [[table]] defined")
    return FormSet(tables=tables, placeholders=tuple(str(p) for p in data.get("placeholders", ())))


def _load(path: Path) -> FormSet:
    with path.open("rb") as handle:
        return parse_definitions(tomllib.load(handle))


@functools.lru_cache(maxsize=1)
def _default() -> FormSet:
    return _load(DEFAULT_PATH)


def load_definitions(path: str | Path | None = None) -> FormSet:
    """Load form definitions; the default (config/forms.toml in the repository) is loaded once and cached."""
    return _default() if path is None else _load(Path(path))
