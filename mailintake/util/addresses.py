"""What counts as an e-mail address we are willing to send to (the settings and the outbox both ask)."""

from __future__ import annotations

import re

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$")


def valid_address(addr: str) -> bool:
    """A plain ASCII ``local@domain.tld`` of sane length (what we are willing to send to)."""
    return len(addr) <= 254 and bool(_ADDR_SPEC.match(addr)) and ".." not in addr
