"""The unit roster (config/units.csv): who is expected to apply, under which 名额配比 category.

Names typed by applicants vary (full-width spaces, bracket widths, a trailing （盖章）, a department
appended), so matching normalises first, then tries exact names and aliases, then a conservative
containment match that must point at exactly one unit. :func:`normalise` is the one unit-name normaliser:
submissions are grouped, matched and searched by it. The campaign-specific rules (a province prefix, the
containment length) come from ``[units]`` of the campaign file.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mailintake.campaign.rules import UnitRules, default_campaign
from mailintake.errors import ConfigError

#: the shipped campaign's 名额配比 categories (附件2), in the order the report shows them ([units] categories
#: of the campaign file; a roster carries its own campaign's as ``Roster.categories``)
CATEGORIES: tuple[str, ...] = default_campaign().units.categories
#: where a submission whose unit is not in the roster is counted
UNMATCHED = "未匹配名录"

_SPACES = re.compile(r"[\s\u200b\u200c\u200d\ufeff]+")
_OPEN = str.maketrans({"【": "(", "〔": "(", "[": "(", "［": "(", "〈": "(", "《": "(",
                       "】": ")", "〕": ")", "]": ")", "］": ")", "〉": ")", "》": ")"})
_STAMP = re.compile(r"\(?(?:单位)?(?:签章|盖章|公章)\)?$")
_TRAILING = re.compile(r"[:：,，.。;；、\-—_]+$")


def normalise(name: str, rules: UnitRules | None = None) -> str:
    """The comparable form of a unit name: NFKC, no spaces, ASCII brackets, no trailing （盖章）, no
    leading word of ``rules.drop_prefixes`` (the shipped campaign's rules by default)."""
    prefixes = (rules or default_campaign().units).drop_prefixes
    text = unicodedata.normalize("NFKC", name or "")
    text = _SPACES.sub("", text).translate(_OPEN)
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING.sub("", text)
        text = _STAMP.sub("", text)
        text = text.removesuffix("()")
    for prefix in prefixes:
        if text.startswith(prefix) and len(text) > len(prefix) + 2:
            text = text[len(prefix):]
    return text


@dataclass(frozen=True)
class Unit:
    """One roster line."""

    name: str
    aliases: tuple[str, ...] = ()
    category: str = ""
    email: str = ""
    #: the unit's contact person and phone (for 需电话催报)
    contact: str = ""
    phone: str = ""

    def keys(self, rules: UnitRules) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for k in (normalise(n, rules) for n in (self.name, *self.aliases)) if k))


@dataclass
class Roster:
    """All units, with a lookup table of their normalised names and aliases."""

    units: list[Unit] = field(default_factory=list)
    rules: UnitRules = field(default_factory=lambda: default_campaign().units)
    _index: dict[str, Unit] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for unit in self.units:
            for key in unit.keys(self.rules):
                self._index.setdefault(key, unit)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.units)

    def __len__(self) -> int:
        return len(self.units)

    def get(self, name: str) -> Unit | None:
        """The unit whose canonical name is exactly ``name``."""
        for unit in self.units:
            if unit.name == name:
                return unit
        return None

    def match(self, name: str) -> Unit | None:
        """The roster unit a typed name refers to, or None when unknown or ambiguous."""
        key = self.normalise(name)
        if not key:
            return None
        exact = self._index.get(key)
        if exact is not None:
            return exact
        return self._contained(key)

    @property
    def categories(self) -> tuple[str, ...]:
        """The campaign's categories in report order (those of the roster's lines when none are configured)."""
        return self.rules.categories or tuple(dict.fromkeys(unit.category for unit in self.units))

    def normalise(self, name: str) -> str:
        """``name`` in the form the roster compares (this campaign's rules)."""
        return normalise(name, self.rules)

    def _contained(self, key: str) -> Unit | None:
        """A department appended ("…审批局政务服务科") or a prefix dropped ("工业园区行政审批局").

        Only start/end containment counts, the shorter side needs ``rules.min_containment`` characters, and
        the longest matching key must belong to a single unit.
        """
        best: dict[int, set[str]] = {}
        for candidate, unit in self._index.items():
            shorter, longer = sorted((candidate, key), key=len)
            if len(shorter) >= self.rules.min_containment and (longer.startswith(shorter) or longer.endswith(shorter)):
                best.setdefault(len(shorter), set()).add(unit.name)
        if not best:
            return None
        names = best[max(best)]
        return self.get(next(iter(names))) if len(names) == 1 else None

    def category(self, name: str) -> str:
        unit = self.match(name)
        return unit.category if unit else UNMATCHED


def _split_aliases(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in re.split(r"[；;|]", text or "") if a.strip())


def load_roster(path: str | Path, rules: UnitRules | None = None) -> Roster:
    """Read units.csv (columns name, aliases, category, email[, contact, phone]; UTF-8 with or without BOM).

    The contact columns are optional, so a roster with the older header still loads."""
    source = Path(path)
    try:
        text = source.read_text("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"roster: {source} not found; copy config/units.csv or fix [campaign] roster") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"roster: cannot read {source} ({exc}); save it as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    missing = {"name", "category"} - set(reader.fieldnames or ())
    if missing:
        raise ConfigError(f"roster: {source} lacks the column(s) {', '.join(sorted(missing))}; "
                          "the header is name,aliases,category,email,contact,phone")
    rules = rules or default_campaign().units
    units: list[Unit] = []
    for line_no, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            continue
        category = (row.get("category") or "").strip()
        if rules.categories and category not in rules.categories:
            raise ConfigError(f"roster: {source} line {line_no}: unknown category {category!r}; "
                              f"use one of {' / '.join(rules.categories)}")
        units.append(Unit(name=name, aliases=_split_aliases(row.get("aliases") or ""), category=category,
                          email=(row.get("email") or "").strip().lower(),
                          contact=(row.get("contact") or "").strip(), phone=(row.get("phone") or "").strip()))
    return Roster(units, rules)
