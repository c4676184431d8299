"""Reading a printed 民主测评票 back: the PDF LibreOffice made of it, through poppler's pdftotext."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest


def ballot_pages(pdf: Path) -> list[list[str]]:
    """Per page of a ballot PDF, the boxes to tick (``□局领导``); asserts there is no signature line."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")[: -1 if text.endswith("\f") else None]
    assert all("签名" not in page and "____" not in page for page in pages)
    return [[f"□{word}" for word in re.findall(r"□\s*(\S+)", page)] for page in pages]
