"""The deadline-day modes of ``ingest.py``: ``--burst N`` and ``--grow``, on SQLite and PostgreSQL.

* burst — ``mailintake run`` (a real subprocess, ``[mailbox] idle = true``, polling every 300 s so
  only IDLE wakes it) waits on the mailbox; N generated mails are then moved into the Dovecot maildir
  at once (a rename each, well under a second for 2,000). Reported: the first and the last receipt's
  arrival at the SMTP sink after the burst, the intake time (burst → the last mail's database
  write), their ratio, and the peak RSS of the ``run`` process tree (sampled every 100 ms).
* grow — the real intake path (``IntakeCycle.process_batch``: children read and parse, the main process
  stores and queues) fills one database; at each checkpoint (0, 1k, 5k, 10k processed mails) a
  window of mails is timed: wall and main-process CPU per mail.

PostgreSQL is a throwaway server (Debian's binaries, as in the tests) started with ``fsync = on`` and
``synchronous_commit = off``: like SQLite's WAL with ``synchronous = NORMAL``, a commit is not flushed
to disk before it returns, and a crash loses at most the last commits, never consistency.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common

ROOT = Path(__file__).resolve().parent.parent
GROW_CHECKPOINTS = (0, 1000, 5000, 10000)


# ------------------------------------------------------------------------------------ databases


def start_postgres() -> tuple[Any, str]:
    """A throwaway PostgreSQL server (fsync on, synchronous_commit off) and a database URL on it."""
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import PostgresUnavailable, new_server

    try:
        server = new_server("-c synchronous_commit=off", prefix="mi-bench-pg-")
    except PostgresUnavailable as exc:
        raise SystemExit(str(exc)) from None
    return server, server.create_database()


def stop_postgres(server: Any) -> None:
    from tests.support.postgres import remove_server

    remove_server(server)


def database_url(kind: str, workdir: Path, servers: list[Any]) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'mailintake.db'}"
    server, url = start_postgres()
    servers.append(server)
    return url


# ---------------------------------------------------------------------------------------- burst


def stage_child(cfg: dict[str, Any], count: int, seed: int, queue: Any) -> None:
    """Generate the burst into a staging directory on the maildir's file system (not measured)."""
    staging = Path(cfg["staging"])
    owner = pwd.getpwnam(cfg["mail_user"])
    for directory in (staging.parent.parent, *(staging.parent.parent / sub for sub in ("cur", "new", "tmp"))):
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    staging.mkdir(parents=True, exist_ok=True)
    replies = 0

    def put(index: int, mail: Any) -> None:
        nonlocal replies
        size = len(mail.raw)
        path = staging / f"{int(time.time())}.M{index:06d}P2.burst,S={size},W={size}"
        path.write_bytes(mail.raw)
        os.chown(path, owner.pw_uid, owner.pw_gid)
        replies += mail.kind != "auto"

    info = common.account(common.generate(count, seed=seed), put)
    info["replies_expected"] = replies
    queue.put(info)


def _progress(url: str) -> tuple[int, int, dt.datetime | None]:
    """(messages, outbox rows still pending, the latest processed_at) read from the database."""
    from sqlalchemy import create_engine, func, select

    from mailintake.db.models import Message, OutboxItem

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            messages = connection.scalar(select(func.count()).select_from(Message)) or 0
            pending = connection.scalar(select(func.count()).where(OutboxItem.status == "pending")) or 0
            last = connection.scalar(select(func.max(Message.processed_at)))
    finally:
        engine.dispose()
    if isinstance(last, dt.datetime) and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return messages, pending, last


def _start_run(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "mailintake", "--config", str(config), "run"],
                               stdout=subprocess.DEVNULL, stderr=log_path.open("wb"), cwd=config.parent)
    deadline = time.monotonic() + 120
    while b"IMAP IDLE active" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mailintake run did not reach IDLE; see {log_path}")
        time.sleep(0.1)
    time.sleep(1.0)  # the first (empty) cycle that IDLE's start requested
    return process


def run_burst(cfg: dict[str, Any], sink: Any, count: int, seed: int, db: str) -> dict[str, Any]:
    """One burst of ``count`` mails through ``mailintake run`` with IDLE on back-end ``db``."""
    from mailintake.demo.session import write_config

    if cfg["server"] != "dovecot":
        raise SystemExit("--burst needs Dovecot (the burst is a rename into its maildir)")
    workdir = Path(cfg["workdir"]) / f"burst-{db}"
    workdir.mkdir(parents=True, exist_ok=True)
    servers: list[Any] = []
    url = database_url(db, workdir, servers)
    maildir = Path(cfg["maildir_root"]) / common.OFFICE
    try:
        stage = common.run_child(stage_child, dict(cfg, staging=str(maildir / "tmp" / "burst")), count, seed)
        config = write_config(workdir, imap_host=cfg["host"], imap_port=cfg["port"], username=common.OFFICE,
                              password=common.USERS[common.OFFICE], smtp_host=cfg["smtp_host"],
                              smtp_port=cfg["smtp_port"], database_url=url, extra={
                                  "mailbox": {"idle": True, "fetch_batch": common.FETCH_BATCH},
                                  "smtp": {"max_replies_per_hour": 100000}, "report": {"recipients": []},
                                  "schedule": {"poll_interval": 300}})
        sink.clear()
        log_path = workdir / "run.log"
        process = _start_run(config, log_path)
        try:
            return _measure(process, maildir, sink, url, stage, count) | {"database": db, "load": stage}
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
    finally:
        for server in servers:
            stop_postgres(server)


def _measure(process: subprocess.Popen[bytes], maildir: Path, sink: Any, url: str, stage: dict[str, Any],
             count: int) -> dict[str, Any]:
    staged = sorted((maildir / "tmp" / "burst").iterdir())
    peak_kb = 0
    started = dt.datetime.now(dt.UTC)
    wall0 = time.monotonic()
    for path in staged:
        path.rename(maildir / "new" / path.name)
    arrival_seconds = time.monotonic() - wall0
    deadline = time.monotonic() + 120 + count * 1.0
    messages = pending = 0
    last_write: dt.datetime | None = None
    while time.monotonic() < deadline:
        peak_kb = max(peak_kb, common.tree_rss_kb(process.pid))
        if len(sink.messages) >= stage["replies_expected"]:
            messages, pending, last_write = _progress(url)
            if messages >= count and pending == 0:
                break
        time.sleep(0.1)
    else:
        messages, pending, last_write = _progress(url)
    received = [m.received_at for m in sink.messages]
    intake = (last_write - started).total_seconds() if last_write else float("nan")
    first = (min(received) - started).total_seconds() if received else float("nan")
    last = (max(received) - started).total_seconds() if received else float("nan")
    return {
        "mails": count, "arrival_seconds": round(arrival_seconds, 3), "messages": messages, "pending": pending,
        "replies": len(received), "replies_expected": stage["replies_expected"],
        "first_receipt_seconds": round(first, 2), "last_receipt_seconds": round(last, 2),
        "intake_seconds": round(intake, 2), "last_over_intake": round(last / intake, 3) if intake else None,
        "peak_tree_rss_mb": round(peak_kb / 1024, 1),
    }


# ----------------------------------------------------------------------------------------- grow


def _replicated(count: int, seed: int) -> list[bytes]:
    base = [mail.raw for mail in common.generate(100, seed=seed)]
    return [base[i % len(base)].replace(b"@example.cn>", f".g{i}@example.cn>".encode(), 1) for i in range(count)]


def grow_child(cfg: dict[str, Any], queue: Any) -> None:
    """Fill one database through the real intake path; time a window of mails at each checkpoint."""
    from mailintake.config.settings import load_settings
    from mailintake.db.engine import open_database
    from mailintake.intake.cycle import IntakeCycle, make_pool
    from mailintake.intake.model import FetchedMail

    workdir = Path(cfg["workdir"])
    settings = load_settings(environ={}, overrides={
        "database": {"url": cfg["url"]}, "storage": {"dir": str(workdir / "storage")},
        "smtp": {"sender": common.OFFICE, "max_replies_per_hour": 100000}, "mailbox": {"username": common.OFFICE}})
    session_factory = open_database(settings.database.url)
    checkpoints = [c for c in GROW_CHECKPOINTS if c < cfg["grow_to"]] + [cfg["grow_to"]]
    window = cfg["window"]
    raws = _replicated(checkpoints[-1] + window, cfg["seed"])
    received = dt.datetime(2019, 12, 17, 10, 0, tzinfo=dt.UTC)
    results: list[dict[str, Any]] = []
    done = 0
    with make_pool(settings) as pool:
        from mailintake.intake.read import read_job, unreadable_mail

        # start the children before timing (their start-up is not a cost per mail)
        warm = [read_job(raw, settings) for raw in raws[:4]]
        pool.read_many(warm, lambda index, reason: unreadable_mail(warm[index].raw, reason, settings))
        cycle = IntakeCycle(settings, session_factory, pool)

        def process(upto: int) -> tuple[float, float]:
            nonlocal done
            wall0, cpu0 = time.perf_counter(), time.process_time()
            while done < upto:
                batch = range(done, min(upto, done + common.FETCH_BATCH))
                cycle.process_batch([FetchedMail("INBOX", 1, i + 1, received, len(raws[i]), raws[i]) for i in batch])
                done = batch[-1] + 1
            return time.perf_counter() - wall0, time.process_time() - cpu0

        for checkpoint in checkpoints:
            process(checkpoint)  # fill (not measured)
            wall, cpu = process(checkpoint + window)
            results.append({"processed": checkpoint, "wall_ms_per_mail": round(wall / window * 1000, 2),
                            "cpu_ms_per_mail": round(cpu / window * 1000, 2)})
            print(f"grow {cfg['db']}: at {checkpoint}: {results[-1]}", file=sys.stderr)
    queue.put({"database": cfg["db"], "window": window, "checkpoints": results})
    session_factory.kw["bind"].dispose()


def run_grow(cfg: dict[str, Any], db: str, grow_to: int, window: int, seed: int) -> dict[str, Any]:
    workdir = Path(cfg["workdir"]) / f"grow-{db}"
    workdir.mkdir(parents=True, exist_ok=True)
    servers: list[Any] = []
    try:
        url = database_url(db, workdir, servers)
        return common.run_child(grow_child, dict(cfg, workdir=str(workdir), url=url, db=db, grow_to=grow_to,
                                                 window=window, seed=seed))
    finally:
        for server in servers:
            stop_postgres(server)


def print_modes(out: dict[str, Any]) -> None:
    for burst in out.get("burst", []):
        ratio = burst["last_over_intake"]
        print(f"  burst of {burst['mails']} on {burst['database']}: first receipt {burst['first_receipt_seconds']} s, "
              f"last {burst['last_receipt_seconds']} s, intake {burst['intake_seconds']} s "
              f"(last/intake {ratio}; goal ≤ 1.1), replies {burst['replies']}/{burst['replies_expected']}, "
              f"peak RSS of the run tree {burst['peak_tree_rss_mb']} MB")
    for grow in out.get("grow", []):
        cells = ", ".join(f"{c['processed']}: {c['wall_ms_per_mail']} ms wall / {c['cpu_ms_per_mail']} ms CPU"
                          for c in grow["checkpoints"])
        print(f"  grow on {grow['database']} (window {grow['window']} mails): {cells}")
