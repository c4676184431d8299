"""Legacy Word files against .docx: the same forms, made by LibreOffice once as Word 97 ``.doc`` and once
as ``.docx``, one form per mail, each set through ``mailintake poll`` (a real subprocess) on its own
mailbox (Dovecot if installed, else pymap) in the same run.

Sets: ``docx``; ``doc`` (the warm LibreOffice pool, ``[limits]`` defaults); with ``--one-shot`` also
``doc`` converted by a one-shot soffice per file (``office_python`` set to a Python without uno: the
fallback, i.e. what every .doc cost before the pool). Each poll starts with no LibreOffice running, so
the pool's start is included. Wall time of the poll, and its ratio to the .docx set.

    uv run python benchmarks/legacy.py --forms 60 --json legacy.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from ingest import warm_server

ROOT = Path(__file__).resolve().parent.parent
SETS = {"docx": common.OFFICE, "doc": "legacy@example.gov.cn", "doc-one-shot": "oneshot@example.gov.cn"}


def make_forms(count: int, seed: int) -> dict[str, list[bytes]]:
    """``count`` distinct forms, each saved by LibreOffice (the warm pool) as .doc and as .docx."""
    import random

    sys.path.insert(0, str(ROOT))
    from mailintake.convert import OfficePool, PoolSettings

    factory = common.FormFactory(random.Random(seed))
    sources = [factory.form()[1] for _ in range(count)]
    with OfficePool(PoolSettings(size=os.cpu_count() or 1, timeout=120, memory_mb=2048,
                                 max_conversions=1000)) as pool:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(pool.size) as threads:
            doc = list(threads.map(lambda data: pool.convert(data, "docx", "doc"), sources))
            docx = list(threads.map(lambda data: pool.convert(data, "docx", "docx"), sources))
    return {"doc": doc, "docx": docx}


def deliver(cfg: dict[str, Any], user: str, fmt: str, forms: list[bytes]) -> None:
    from imapclient import IMAPClient

    from mailintake.demo.samples.mails import MessageBuilder

    imap = IMAPClient(cfg["host"], cfg["port"], ssl=False, timeout=120)
    imap.login(user, common.USERS[user])
    try:
        for index, data in enumerate(forms):
            unit = f"第{index + 1}政务服务中心"
            raw = (MessageBuilder("qq").sender(f"{unit}办公室", f"u{index}@qq.com")
                   .date("Mon, 16 Dec 2019 10:00:00 +0800").message_id(f"<legacy{index}.{fmt}@example.cn>")
                   .subject(f"双争双创申报材料 {unit}").attach(f"申报表 {unit}.{fmt}", data).build())
            imap.append("INBOX", raw, msg_time=dt.datetime(2019, 12, 16, 10, 0, tzinfo=common.CST))
    finally:
        imap.logout()


def poll(cfg: dict[str, Any], workdir: Path, user: str, extra_limits: dict[str, Any],
         log: Path | None = None) -> dict[str, Any]:
    from mailintake.demo.session import write_config

    workdir.mkdir()
    config = write_config(workdir, imap_host=cfg["host"], imap_port=cfg["port"], username=user,
                          password=common.USERS[user], smtp_host=cfg["smtp_host"], smtp_port=cfg["smtp_port"],
                          extra={"mailbox": {"fetch_batch": common.FETCH_BATCH}, "limits": extra_limits,
                                 "report": {"recipients": []}})
    started = time.perf_counter()
    verbose = ["-v"] if log else []
    done = subprocess.run([sys.executable, "-m", "mailintake", *verbose, "--config", str(config), "poll", "--no-send"],
                          cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if log:
        log.write_text(done.stderr, "utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"poll failed ({done.returncode}): {done.stderr[-500:]}")
    import sqlite3

    with sqlite3.connect(workdir / "mailintake.db") as db:
        submissions = db.execute("SELECT count(*) FROM submissions").fetchone()[0]
        flagged = db.execute("SELECT count(*) FROM messages WHERE status != 'accepted'").fetchone()[0]
    return {"seconds": round(seconds, 2), "submissions": submissions, "not_accepted": flagged}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forms", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server", choices=["auto", "dovecot", "pymap"], default="auto")
    parser.add_argument("--one-shot", action="store_true", help="also the .doc set converted one-shot (slow)")
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--logs", type=Path, help="write each poll's -v log here (timestamps per step)")
    args = parser.parse_args(argv)
    for user in SETS.values():
        common.USERS.setdefault(user, "secret")
    load = os.getloadavg()
    out: dict[str, Any] = {"forms": args.forms, "cpus": os.cpu_count(), "python": platform.python_version(),
                           "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "sets": {}}
    started = time.perf_counter()
    forms = make_forms(args.forms, args.seed)
    out["make_seconds"] = round(time.perf_counter() - started, 1)
    sets = ["docx", "doc", *(["doc-one-shot"] if args.one_shot else [])]
    with tempfile.TemporaryDirectory(prefix="mi-bench-legacy-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)
        imap, sink, cfg = common.start_servers(args.server, workdir)
        out["server"] = cfg["server"]
        try:
            for name in sets:
                deliver(cfg, SETS[name], name.split("-")[0], forms[name.split("-")[0]])
                warm_server(cfg, SETS[name])
            for name in sets:
                extra = {"office_python": sys.executable} if name == "doc-one-shot" else {}
                log = args.logs / f"{name}.log" if args.logs else None
                out["sets"][name] = poll(cfg, workdir / name, SETS[name], extra, log)
                print(f"{name}: {out['sets'][name]}", file=sys.stderr)
        finally:
            sink.stop()
            imap.stop()
    out["load_before"] = [round(x, 2) for x in load]
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    base = out["sets"]["docx"]["seconds"]
    print(f"load average before {out['load_before']}, after {out['load_after']}; {cfg['server']}, "
          f"{args.forms} forms, one per mail")
    print(f"{'set':<14} {'poll s':>8} {'× .docx':>8} {'ms/mail over .docx':>20} {'submissions':>12} "
          f"{'not accepted':>13}")
    for name, row in out["sets"].items():
        extra_ms = (row["seconds"] - base) / args.forms * 1000
        print(f"{name:<14} {row['seconds']:>8.2f} {row['seconds'] / base:>8.2f} {extra_ms:>20.0f} "
              f"{row['submissions']:>12} {row['not_accepted']:>13}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
