"""The warm LibreOffice pool (mailintake/convert): same records as the one-shot conversion, supervision
(time limit, crash, memory, conversion quota), nothing left behind, and the one-shot fallback."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailintake.commands.check_config import check_office
from mailintake.config.settings import LimitsSettings, Settings
from mailintake.convert import OfficePool, OfficeUnavailable, PoolSettings, pool_settings
from mailintake.convert.pool import uno_python
from mailintake.demo.samples.forms import DEFAULTS, FormSpec, convert_with_soffice, make_form_docx, make_multi_form_docx
from mailintake.intake.sandbox import ParseJob, ParserPool, run_job
from parsers.convert import ConversionError, find_soffice, office_pipe
from tests.support.processes import descendants, processes, wait_gone

SOFFICE = find_soffice()
UNO = uno_python("auto", SOFFICE) if SOFFICE else None

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed"),
]
warm = pytest.mark.skipif(UNO is None, reason="no Python with LibreOffice's uno module (python3-uno)")

ALL_FOUR = [(1, DEFAULTS[1]), (2, DEFAULTS[2]), (3, DEFAULTS[3]), (4, DEFAULTS[4])]


def settings(**changes: Any) -> PoolSettings:
    return dataclasses.replace(PoolSettings(size=2, timeout=60, memory_mb=1024, max_conversions=200), **changes)


def job(name: str, data: bytes) -> ParseJob:
    return ParseJob(name=name, data=data, max_chars=1000, max_file_bytes=50 << 20, max_uncompressed_bytes=200 << 20,
                    max_compression_ratio=200, max_members=500)


@pytest.fixture(scope="module")
def legacy() -> dict[str, bytes]:
    """All four tables saved by LibreOffice as .doc, .odt and .rtf (one-shot, as an applicant's office would)."""
    source = make_multi_form_docx([FormSpec(1), FormSpec(2, variant="tracked"), FormSpec(3),
                                   FormSpec(4, variant="broken_labels")])
    out: dict[str, bytes] = {}
    for fmt in ("doc", "odt", "rtf"):
        data = convert_with_soffice(source, fmt)
        assert data is not None
        out[fmt] = data
    return out


@pytest.fixture
def pool() -> Iterator[OfficePool]:
    with OfficePool(settings()) as office:
        yield office


def _alive(pid: int) -> bool:
    found = processes().get(pid)
    return found is not None and found.state != "Z"


def _group(pid: int, wait: float = 10) -> list[int]:
    """The living members of process group ``pid``, after waiting up to ``wait`` s for none to be left."""
    deadline = time.monotonic() + wait
    while True:
        members = [p.pid for p in processes().values() if p.state != "Z" and _pgid(p.pid) == pid]
        if not members or time.monotonic() > deadline:
            return members
        time.sleep(0.05)


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


@warm
def test_the_warm_pool_reads_every_legacy_format_like_the_one_shot(legacy: dict[str, bytes], pool: OfficePool) -> None:
    """GIVEN forms saved as .doc/.odt/.rtf (and a .doc named .wps) WHEN parsed through the worker's parser pool
    with warm LibreOffice THEN the same results as the one-shot conversion in the child, in job order."""
    jobs = [job("申报材料.doc", legacy["doc"]), job("说明.docx", make_form_docx(2)),
            job("申报材料.odt", legacy["odt"]), job("申报材料.rtf", legacy["rtf"]), job("申报材料.wps", legacy["doc"]),
            job("坏.doc", b"\xd0\xcf\x11\xe0" * 8)]
    one_shot = [run_job(j) for j in jobs]
    with ParserPool(workers=1, timeout=120, office=pool) as parsers:
        results = parsers.parse_many(jobs)
        assert pool.directory is not None and (pool.directory.stat().st_mode & 0o777) == 0o700
    assert results == one_shot
    assert [(r.format, [(f.table, f.fields) for f in r.forms]) for r in results[:5]] == [
        ("doc", ALL_FOUR), ("docx", [(2, DEFAULTS[2])]), ("odt", ALL_FOUR), ("rtf", ALL_FOUR), ("wps", ALL_FOUR)]
    assert [f.code for f in results[5].flags] == [f.code for f in one_shot[5].flags]
    assert pool.directory is None or not pool.directory.exists()  # closed with the parser pool


@warm
def test_a_conversion_past_its_time_limit_kills_only_its_instance(legacy: dict[str, bytes], pool: OfficePool) -> None:
    threads = [threading.Thread(target=pool.convert, args=(legacy["doc"], "doc", "docx")) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = pool.pids()
    assert pool.directory is not None
    pipes = [office_pipe((workdir / "profile").as_uri()) for workdir in sorted(pool.directory.glob("instance-*"))]
    assert [pipe.is_socket() for pipe in pipes] == [True, True]  # LibreOffice's own, in /tmp
    pool.settings = dataclasses.replace(pool.settings, timeout=0.01)
    with pytest.raises(ConversionError, match="timed out"):
        pool.convert(legacy["doc"], "doc", "docx")
    pool.settings = dataclasses.replace(pool.settings, timeout=60)
    assert [_alive(first), _alive(second)].count(True) == 1
    assert sorted(pipe.exists() for pipe in pipes) == [False, True]  # the killed one's socket went with it
    survivor = first if _alive(first) else second
    killed = second if survivor == first else first
    assert _group(killed) == []  # its LibreOffice went with it
    assert pool.convert(legacy["doc"], "doc", "docx").startswith(b"PK")
    assert survivor in pool.pids()


@warm
def test_an_instance_that_crashed_is_replaced(legacy: dict[str, bytes], pool: OfficePool) -> None:
    pool.convert(legacy["doc"], "doc", "docx")
    [guard] = pool.pids()
    [office] = [p for p in _group(guard, wait=0) if "soffice.bin" in processes()[p].cmdline]
    os.kill(office, signal.SIGKILL)
    assert _group(guard) == []  # the server and its guard follow LibreOffice
    assert pool.convert(legacy["doc"], "doc", "docx").startswith(b"PK")
    assert pool.pids() != [guard]


@warm
def test_an_instance_is_restarted_after_its_quota_or_past_its_memory_limit(
        legacy: dict[str, bytes], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "mailintake.convert"), OfficePool(settings(size=1, max_conversions=2)) as pool:
        pool.convert(legacy["doc"], "doc", "docx")
        [guard] = pool.pids()
        pool.convert(legacy["rtf"], "rtf", "docx")
        assert pool.pids() == [] and _group(guard) == []
        pool.convert(legacy["odt"], "odt", "docx")
        assert len(pool.pids()) == 1
    assert [r.getMessage() for r in caplog.records] == ["LibreOffice instance 0 restarted at next need: "
                                                        "served 2 conversions"]
    caplog.clear()
    with caplog.at_level(logging.INFO, "mailintake.convert"), OfficePool(settings(size=1, memory_mb=64)) as pool:
        pool.convert(legacy["doc"], "doc", "docx")
        assert pool.pids() == []
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("LibreOffice instance 0 restarted at next need: holds ") and message.endswith(
        " MB (limit 64 MB)")


_CONVERT_FOREVER = """
import sys
from mailintake.convert import OfficePool, PoolSettings
data = open(sys.argv[1], "rb").read()
pool = OfficePool(PoolSettings(size=2, timeout=60, memory_mb=1024, max_conversions=200))
while True:
    pool.convert(data, "doc", "docx")
"""


@warm
@pytest.mark.parametrize("moment", ["during", "between"])
def test_sigkill_of_the_worker_during_conversions_leaves_no_libreoffice(legacy: dict[str, bytes], tmp_path: Path,
                                                                        moment: str) -> None:
    """The kill lands while a file is in LibreOffice (its input is in the private directory) or between files."""
    source = tmp_path / "in.doc"
    source.write_bytes(legacy["doc"])
    worker = subprocess.Popen([sys.executable, "-c", _CONVERT_FOREVER, str(source)], cwd=Path(__file__).parents[3],
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 120
        converting = converted = False
        while time.monotonic() < deadline and not (converting if moment == "during" else converted):
            busy = bool(list(tmp_path.glob("mailintake-office-*/job-*/input.doc")))
            converted = converted or (converting and not busy)
            converting = converting or busy
            time.sleep(0.002)
        below = descendants(worker.pid)
        assert any("soffice.bin" in p.cmdline for p in below), "LibreOffice did not start within 120 s"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    left = wait_gone(below, timeout=10)
    assert left == [], [f"{p.pid} {p.cmdline[:100]}" for p in left]


def test_without_a_uno_python_the_child_converts_one_shot(legacy: dict[str, bytes],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN [limits] office_python naming a Python without uno THEN one log line, and the forms are read."""
    with caplog.at_level(logging.INFO, "mailintake.convert"), \
            OfficePool(settings(python=sys.executable)) as pool:
        with pytest.raises(OfficeUnavailable):
            pool.convert(legacy["doc"], "doc", "docx")
        with ParserPool(workers=1, timeout=120, office=pool) as parsers:
            [result] = parsers.parse_many([job("申报材料.doc", legacy["doc"])])
    assert [(f.table, f.fields) for f in result.forms] == ALL_FOUR
    assert [r.getMessage() for r in caplog.records] == [
        "LibreOffice: no Python with its uno module (install python3-uno); each .doc/.wps/.rtf/.odt is "
        "converted by a one-shot soffice"]


def test_check_config_names_the_conversion_path() -> None:
    fallback = LimitsSettings(office_python=sys.executable)
    assert check_office(_settings(fallback)) == (
        f"one-shot soffice per file ({SOFFICE}): no Python with LibreOffice's uno module "
        "(install python3-uno or set [limits] office_python)")
    if UNO is not None:
        assert check_office(_settings(LimitsSettings(office_instances=3))) == (
            f"warm pool of 3 LibreOffice instance(s), unoserver 3.7 under {UNO}")
        assert pool_settings(LimitsSettings()).size == max(1, os.cpu_count() or 1)


def _settings(limits: LimitsSettings) -> Settings:
    return Settings.model_construct(limits=limits)
