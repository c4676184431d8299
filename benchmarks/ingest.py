"""End-to-end intake benchmark: full pipeline vs. the floor, empty poll, peak memory.

    uv run python benchmarks/ingest.py --mails 1000 [--json OUT] [--server dovecot|pymap]
                                       [--empty-poll-mails 10000] [--big]

Starts a local IMAP server (Dovecot when installed, else pymap) and an SMTP sink, loads N
generated mails (not measured) and measures in one run:

* floor — one imapclient ``UID FETCH BODY.PEEK[]`` loop in batches; each .docx (also inside zips)
  opened with python-docx and every table cell read; nothing else (one process);
* pipeline — ``poll_once`` + ``deliver_due`` until the outbox is empty: from the first FETCH to the
  last reply accepted by the SMTP sink, with the time per stage;
* empty poll — ``poll_once`` on an already-processed mailbox of ``--empty-poll-mails`` mails, in a warm process
  (wall and CPU time, median of several polls);
* memory — peak RSS of each measured process (getrusage SELF + CHILDREN) and of its parser
  children (VmHWM, sampled), since the pool's workers are children of the forkserver.

Every measured phase runs in a fresh process, so the generator's memory does not count.
See benchmarks/README.md for the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import io
import json
import os
import platform
import pwd
import resource
import statistics
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    FETCH_BATCH,
    OFFICE,
    PROCESSED_USER,
    USERS,
    GeneratedMail,
    TreeMemory,
    account,
    generate,
    run_child,
    start_servers,
)

# ---------------------------------------------------------------------------------------- corpus


# --------------------------------------------------------------------------------------- loading


def _maildir(cfg: dict[str, Any], user: str) -> Path:
    return Path(cfg["maildir_root"]) / user


def _deliver_to_maildir(root: Path, mails: Iterator[GeneratedMail], uid: int, gid: int) -> dict[str, Any]:
    """Write straight into the maildir as an LDA would (mtime = INTERNALDATE, S=/W= sizes given)."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.chown(root / sub, uid, gid)
    os.chown(root, uid, gid)
    return account(mails, lambda i, m: _write_one(root, i, m, uid, gid))


def _write_one(root: Path, index: int, mail: GeneratedMail, uid: int, gid: int) -> None:
    stamp = int(mail.received_at.timestamp())
    size = len(mail.raw)
    path = root / "cur" / f"{stamp}.M{index:06d}P1.bench,S={size},W={size}:2,"
    path.write_bytes(mail.raw)
    os.chown(path, uid, gid)
    os.utime(path, (stamp, stamp))


def load_child(cfg: dict[str, Any], user: str, count: int, seed: int, big_every: int,
               queue: Any) -> None:
    """Generate and load ``count`` mails into ``user``'s INBOX (a child process: its memory is not measured)."""
    mails = generate(count, seed=seed, big_every=big_every)
    if cfg["server"] == "dovecot":
        owner = pwd.getpwnam(cfg["mail_user"])
        queue.put(_deliver_to_maildir(_maildir(cfg, user), mails, owner.pw_uid, owner.pw_gid))
        return
    from imapclient import IMAPClient

    imap = IMAPClient(cfg["host"], cfg["port"], ssl=False, timeout=60)
    imap.login(user, USERS[user])
    try:
        queue.put(account(mails, lambda _i, m: imap.append("INBOX", m.raw, msg_time=m.received_at)))
    finally:
        imap.logout()


def replicate_child(cfg: dict[str, Any], user: str, count: int, queue: Any) -> None:
    """Fill ``user``'s maildir with ``count`` mails: 100 generated ones repeated with fresh Message-IDs.

    Used for the processed mailbox (10,000 mails): generating each from scratch would take minutes.
    """
    base = list(generate(100, seed=11))
    owner = pwd.getpwnam(cfg["mail_user"])

    def repeated() -> Iterator[GeneratedMail]:
        for index in range(count):
            mail = base[index % len(base)]
            copy = index // len(base)
            raw = mail.raw.replace(b".11@example.cn>", f".11.{copy}@example.cn>".encode(), 1)
            yield GeneratedMail(raw, mail.received_at - dt.timedelta(days=1), mail.forms, mail.kind)

    if cfg["server"] == "dovecot":
        queue.put(_deliver_to_maildir(_maildir(cfg, user), repeated(), owner.pw_uid, owner.pw_gid))
        return
    from imapclient import IMAPClient

    imap = IMAPClient(cfg["host"], cfg["port"], ssl=False, timeout=60)
    imap.login(user, USERS[user])
    try:
        queue.put(account(repeated(), lambda _i, m: imap.append("INBOX", m.raw, msg_time=m.received_at)))
    finally:
        imap.logout()


# ------------------------------------------------------------------------------------ measuring


class StageTimer:
    """Wall time per pipeline stage, by wrapping the functions each stage consists of.

    Costs nothing when not installed (the benchmark wraps; the service runs unwrapped).
    ``commit`` wraps the whole per-mail transaction; ``database`` = commit − rules − reply. The next batch
    is read and parsed (mime, storage, parse) while one is recorded, so the stages overlap: their sum
    exceeds the wall time and ``other`` (wall time minus the sum) is negative.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        original = getattr(owner, attr)  # AttributeError: the pipeline was refactored, update the map
        seconds, calls = self.seconds, self.calls

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - started
                calls[stage] += 1

        setattr(owner, attr, timed)

    def install(self) -> None:
        import mailintake.intake.cycle as cycle
        import mailintake.intake.decide as decide
        import mailintake.intake.read as read
        import mailintake.intake.record as record
        import mailintake.outbox.sender as sender
        from mailintake.db.storage import Storage
        from mailintake.intake.sandbox import ParserPool
        from mailintake.mailbox.client import MailboxClient

        for attr in ("connect", "select", "uids_above", "fetch_meta", "fetch_raw", "fetch_headers"):
            self.wrap(MailboxClient, attr, "fetch")
        self.wrap(read, "read_in_process", "mime")  # header-only reads in the worker
        self.wrap(ParserPool, "read_many", "mime")  # waiting for the children to read the mails
        self.wrap(Storage, "put", "storage")
        self.wrap(ParserPool, "parse_many", "parse")
        self.wrap(ParserPool, "close", "parse")
        self.wrap(decide, "run_chain", "rules")
        self.wrap(decide, "decide", "rules")
        self.wrap(record, "enqueue", "reply")
        self.wrap(cycle.IntakeCycle, "commit_one", "commit")
        self.wrap(sender, "deliver_due", "sending")

    def stages(self, total: float) -> dict[str, float]:
        s = self.seconds
        out = {
            "fetch": s["fetch"],
            "mime": s["mime"],
            "storage": s["storage"],
            "parse": s["parse"],
            "rules": s["rules"],
            "database": s["commit"] - s["rules"] - s["reply"],
            "reply_compose": s["reply"],
            "sending": s["sending"],
        }
        out["other"] = total - sum(out.values())
        return {k: round(v, 3) for k, v in out.items()}


def settings_for(cfg: dict[str, Any], workdir: Path, user: str) -> Any:
    from mailintake.config.settings import load_settings

    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": cfg.get("database_url") or f"sqlite:///{workdir / 'mailintake.db'}"},
        "storage": {"dir": str(workdir / "storage")},
        "report": {"dir": str(workdir / "reports")},
        "mailbox": {"host": cfg["host"], "port": cfg["port"], "security": "none", "username": user,
                    "password": USERS[user], "verify_tls": False, "fetch_batch": FETCH_BATCH},
        "smtp": {"host": cfg["smtp_host"], "port": cfg["smtp_port"], "security": "none", "sender": OFFICE},
    }
    if cfg.get("big_limit_mb"):
        overrides["mailbox"]["max_message_bytes"] = cfg["big_limit_mb"] * 1024 * 1024
    return load_settings(environ={}, overrides=overrides)


def _deliver_all(settings: Any, session_factory: Any) -> dict[str, int]:
    from mailintake.outbox.sender import deliver_due

    totals: Counter[str] = Counter()
    while True:
        result = deliver_due(settings, session_factory)
        totals.update({"sent": result.sent, "retried": result.retried, "failed": result.failed})
        if result.sent + result.retried + result.failed == 0:
            return dict(totals)


def _db_counts(session_factory: Any) -> dict[str, Any]:
    from sqlalchemy import func, select

    from mailintake.db.models import Message, OutboxItem, Submission

    with session_factory() as session:
        statuses = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
        return {
            "messages": sum(statuses.values()),
            "statuses": statuses,
            "submissions": session.scalar(select(func.count()).select_from(Submission)),
            "outbox": dict(session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()),
        }


def pipeline_child(cfg: dict[str, Any], queue: Any) -> None:
    """The full pipeline on the loaded mailbox, in a fresh process."""
    from mailintake.db.engine import open_database
    from mailintake.intake.cycle import poll_once

    workdir = Path(cfg["workdir"]) / cfg.get("pipeline_dir", "pipeline")
    workdir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(cfg, workdir, OFFICE)
    session_factory = open_database(settings.database.url)
    timer = StageTimer()
    timer.install()
    profiler = None
    if cfg.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    with TreeMemory() as memory:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = poll_once(settings, session_factory)
        poll_seconds = time.perf_counter() - wall0
        delivered = _deliver_all(settings, session_factory)
        total = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.stop()
        Path(cfg["profile"]).write_text(profiler.output_text(unicode=True, show_all=False), "utf-8")
    queue.put({
        "seconds": round(total, 3),
        "poll_seconds": round(poll_seconds, 3),
        "cpu_main_seconds": round(cpu, 3),
        "stages": timer.stages(total),
        "poll": result.summary(),
        "delivered": delivered,
        "database": _db_counts(session_factory),
        "memory": memory.report(),
        "children0": children0.ru_maxrss,
    })


def _cells_of_docx(data: bytes) -> int:
    from docx import Document

    cells = 0
    document = Document(io.BytesIO(data))
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                _ = cell.text
                cells += 1
    return cells


def _floor_file(data: bytes, counts: Counter[str]) -> None:
    if data[:2] != b"PK":
        return
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    if "word/document.xml" in names:
        counts["cells"] += _cells_of_docx(data)
        counts["docx"] += 1
        return
    for name in names:
        if name.lower().endswith(".docx"):
            _floor_file(archive.read(name), counts)


def floor_child(cfg: dict[str, Any], queue: Any) -> None:
    """The floor: one FETCH loop and python-docx over every form, nothing else."""
    from imapclient import IMAPClient

    counts: Counter[str] = Counter()
    with TreeMemory() as memory:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        imap = IMAPClient(cfg["host"], cfg["port"], ssl=False, timeout=120)
        imap.login(OFFICE, USERS[OFFICE])
        imap.select_folder("INBOX", readonly=True)
        uids = sorted(imap.search("ALL"))
        fetch_seconds = 0.0
        for start in range(0, len(uids), FETCH_BATCH):
            t = time.perf_counter()
            data = imap.fetch(uids[start : start + FETCH_BATCH], ["BODY.PEEK[]"])
            fetch_seconds += time.perf_counter() - t
            for item in data.values():
                counts["mails"] += 1
                message = email.message_from_bytes(item[b"BODY[]"])
                for part in message.walk():
                    if part.is_multipart():
                        continue
                    payload = part.get_payload(decode=True)
                    if isinstance(payload, bytes):
                        _floor_file(payload, counts)
            del data
        imap.logout()
        total = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    queue.put({"seconds": round(total, 3), "fetch_seconds": round(fetch_seconds, 3), "cpu_seconds": round(cpu, 3),
               "counts": dict(counts), "memory": memory.report()})


def empty_poll_child(cfg: dict[str, Any], queue: Any) -> None:
    """Process the processed mailbox (not measured), then time empty polls in the same warm process."""
    from mailintake.db.engine import open_database
    from mailintake.intake.cycle import make_pool, poll_once

    workdir = Path(cfg["workdir"]) / "processed"
    workdir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(cfg, workdir, PROCESSED_USER)
    session_factory = open_database(settings.database.url)
    started = time.perf_counter()
    with make_pool(settings) as pool:
        first = poll_once(settings, session_factory, pool=pool)
    setup_poll = time.perf_counter() - started
    delivered = _deliver_all(settings, session_factory)
    setup_seconds = time.perf_counter() - started
    walls: list[float] = []
    cpus: list[float] = []
    fetched = 0
    for _ in range(cfg["empty_polls"] + 1):  # the first one only warms caches
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = poll_once(settings, session_factory)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        fetched += result.fetched
    profile_text = None
    if cfg.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(5):
            poll_once(settings, session_factory)
        profiler.stop()
        profile_text = profiler.output_text(unicode=True)
    # a rescan: the folder's UIDVALIDITY is made to differ from the one recorded, as after a server
    # migration; every mail is fetched again and recognised by its SHA-256 without being read or parsed
    from sqlalchemy import update

    from mailintake.db.models import Ledger, MailboxState

    with session_factory() as session, session.begin():  # as if the ledger had been written under another
        session.execute(update(MailboxState).values(uidvalidity=MailboxState.uidvalidity + 1))
        session.execute(update(Ledger).values(uidvalidity=Ledger.uidvalidity + 1))
    rescan_started = time.perf_counter()
    rescan = poll_once(settings, session_factory)
    rescan_seconds = time.perf_counter() - rescan_started
    warm_walls, warm_cpus = walls[1:], cpus[1:]
    queue.put({
        "rescan_seconds": round(rescan_seconds, 2),
        "rescan_fetched": rescan.fetched,
        "rescan_duplicates": rescan.duplicates,
        "rescan_new": sum(rescan.counts.values()),
        "mails": first.fetched,
        "setup_poll_seconds": round(setup_poll, 1),
        "setup_seconds": round(setup_seconds, 1),
        "setup_counts": first.summary()["counts"],
        "delivered": delivered,
        "fetched_when_empty": fetched,
        "polls": len(warm_walls),
        "wall_ms_median": round(statistics.median(warm_walls) * 1000, 1),
        "wall_ms_max": round(max(warm_walls) * 1000, 1),
        "cpu_ms_median": round(statistics.median(warm_cpus) * 1000, 1),
        "first_poll_ms": round(walls[0] * 1000, 1),
        "profile": profile_text,
        "database": _db_counts(session_factory),
    })


# ------------------------------------------------------------------------------------ orchestration


def warm_server(cfg: dict[str, Any], user: str) -> float:
    """SELECT and FETCH the metadata once, as a server that indexed at delivery would have (not measured)."""
    from imapclient import IMAPClient

    started = time.perf_counter()
    imap = IMAPClient(cfg["host"], cfg["port"], ssl=False, timeout=600)
    imap.login(user, USERS[user])
    imap.select_folder("INBOX", readonly=True)
    uids = imap.search("ALL")
    if uids:
        imap.fetch(uids, ["RFC822.SIZE", "INTERNALDATE", "FLAGS", "BODY.PEEK[HEADER]"])
    imap.logout()
    return time.perf_counter() - started


def _cli_startup() -> dict[str, float]:
    """Wall time of `mailintake --help` and of importing what `poll` imports, in fresh processes."""
    import subprocess

    def timed(argv: list[str]) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            best = min(best, time.perf_counter() - started)
        return round(best * 1000, 1)

    python = sys.executable
    return {
        "python_bare_ms": timed([python, "-c", "pass"]),
        "cli_help_ms": timed([python, "-m", "mailintake", "--help"]),
        "poll_imports_ms": timed([python, "-c", "import mailintake.commands.poll, mailintake.intake.cycle, "
                                  "mailintake.mailbox, mailintake.db.engine, mailintake.outbox.sender"]),
    }


def _fmt_row(name: str, value: str, goal: str = "", verdict: str = "") -> str:
    return f"  {name:<44} {value:>22}  {goal:<20} {verdict}"


def print_table(out: dict[str, Any]) -> None:
    print()
    print(f"mailintake intake benchmark — {out['mails']} mails, server {out['server']}, "
          f"{out['cpus']} CPUs, Python {out['python']}")
    load = out.get("load", {})
    if load:
        print(f"  corpus: {load['mails']} mails, {load['forms']} forms, {load['bytes'] / 1e6:.1f} MB, "
              f"kinds {load['kinds']}" + (f", {load['big']} with a 60 MB scan" if load.get("big") else ""))
    floor, pipe = out.get("floor"), out.get("pipeline")
    if floor:
        print(_fmt_row("floor (FETCH + python-docx cells)", f"{floor['seconds']:.2f} s"))
        print(_fmt_row("  CPU", f"{floor['cpu_seconds']:.2f} s"))
    if pipe:
        print(_fmt_row("full pipeline (poll_once + deliver_due)", f"{pipe['seconds']:.2f} s"))
        print(_fmt_row("  CPU main process / parser children", f"{pipe['cpu_main_seconds']:.2f} / "
                       f"{pipe['memory']['children_cpu_seconds']:.2f} s"))
        print(_fmt_row("  mails/s", f"{out['mails'] / pipe['seconds']:.1f}"))
        print(_fmt_row("  forms/s", f"{pipe['database']['submissions'] / pipe['seconds']:.1f}"))
        print(_fmt_row("  replies accepted by the SMTP sink", str(pipe["sink_messages"])))
    if floor and pipe:
        ratio = pipe["seconds"] / floor["seconds"] if floor["seconds"] else float("inf")
        limit = 1.2 if out.get("database") == "postgres" else 1.0  # issue 21's goals
        print(_fmt_row(f"pipeline / floor ({out.get('database', 'sqlite')})", f"{ratio:.2f}x", f"<= {limit}x",
                       "OK" if ratio <= limit else "MISSED"))
        for number, other in enumerate(out.get("rounds", []), 1):
            print(_fmt_row(f"  round {number}: floor / pipeline", f"{other['floor']:.1f} / {other['pipeline']:.1f} s",
                           f"{other['ratio']:.2f}x"))
    if pipe:
        for stage, seconds in pipe["stages"].items():
            print(_fmt_row(f"  stage {stage}", f"{seconds:.2f} s"))
        mem = pipe["memory"]
        peak = mem["self_plus_children_mb"]
        goal = "< 300 MB" + (" (big)" if out.get("big") else "")
        print(_fmt_row("peak RSS pipeline (self + parser child)", f"{peak:.0f} MB", goal,
                       ("OK" if peak < 300 else "MISSED")))
        print(_fmt_row("  self / child / sampled tree", f"{mem['self_peak_mb']:.0f}/{mem['children_peak_mb']:.0f}/"
                       f"{mem['tree_sampled_peak_mb']:.0f} MB"))
    if floor:
        print(_fmt_row("peak RSS floor", f"{floor['memory']['self_peak_mb']:.0f} MB"))
    empty = out.get("empty_poll")
    if empty:
        print(_fmt_row(f"empty poll at {empty['mails']} processed mails (wall)", f"{empty['wall_ms_median']:.1f} ms",
                       "< 100 ms", "OK" if empty["wall_ms_median"] < 100 else "MISSED"))
        print(_fmt_row("  empty poll CPU time (main process)", f"{empty['cpu_ms_median']:.1f} ms"))
        print(_fmt_row("rescan after a UIDVALIDITY change (all mails fetched again)",
                       f"{empty['rescan_seconds']:.1f} s",
                       f"{empty['rescan_duplicates']} duplicates, {empty['rescan_new']} new"))
    cli = out.get("cli")
    if cli:
        print(_fmt_row("start-up: python / `mailintake --help`", f"{cli['python_bare_ms']:.0f} / "
                       f"{cli['cli_help_ms']:.0f} ms"))
        print(_fmt_row("start-up: imports of `poll`", f"{cli['poll_imports_ms']:.0f} ms"))
    print()


def _round(args: argparse.Namespace, cfg: dict[str, Any], workdir: Path, index: int, sink: Any,
           pg_servers: list[Any]) -> dict[str, Any]:
    """One floor run and one pipeline run (on a fresh database) of the loaded mailbox, back to back."""
    out: dict[str, Any] = {}
    if not args.skip_floor:
        out["floor"] = run_child(floor_child, cfg)
        print(f"floor: {out['floor']['seconds']} s", file=sys.stderr)
    if not args.skip_pipeline:
        pcfg = dict(cfg, profile=args.profile if index == 0 else None, pipeline_dir=f"pipeline-{index}")
        if args.db == "postgres":  # the full poll on PostgreSQL (the floor has no database)
            import burst

            pcfg["database_url"] = burst.database_url("postgres", workdir / f"pipeline-{index}", pg_servers)
        out["database"] = "postgres" if args.db == "postgres" else "sqlite"
        sent_before = len(sink.messages)
        out["pipeline"] = run_child(pipeline_child, pcfg)
        out["pipeline"]["sink_messages"] = len(sink.messages) - sent_before
        print(f"pipeline: {out['pipeline']['seconds']} s", file=sys.stderr)
    if "floor" in out and "pipeline" in out and out["floor"]["seconds"]:
        out["ratio"] = round(out["pipeline"]["seconds"] / out["floor"]["seconds"], 3)
        print(f"round {index + 1}: pipeline / floor {out['ratio']}", file=sys.stderr)
    return out


def _median(rounds: list[dict[str, Any]]) -> float:
    ratios = sorted(r.get("ratio", 0) for r in rounds)
    return ratios[(len(ratios) - 1) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=200, help="mails in the measured mailbox")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    parser.add_argument("--server", choices=["auto", "dovecot", "pymap"], default="auto")
    parser.add_argument("--empty-poll-mails", type=int, default=0, help="also measure an empty poll at this many mails")
    parser.add_argument("--empty-polls", type=int, default=7, help="measured empty polls (median reported)")
    parser.add_argument("--big", action="store_true", help="add a 60 MB scan to every --big-every-th mail")
    parser.add_argument("--big-every", type=int, default=100)
    parser.add_argument("--big-limit-mb", type=int, default=128,
                        help="with --big: [mailbox] max_message_bytes, so the big mails are read, not refused")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--rounds", type=int, default=1,
                        help="floor and pipeline this many times, alternating, on the same mailbox; the figures "
                             "reported are the round with the median ratio (a shared machine's speed drifts by "
                             "tens of percent within minutes, the same for both runs of one round)")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--profile", help="write a pyinstrument profile of the pipeline (and empty polls) here")
    parser.add_argument("--burst", type=int, default=0,
                        help="instead: a burst of this many mails through `mailintake run` with IDLE (Dovecot)")
    parser.add_argument("--doc-every", type=int, default=0,
                        help="with --burst: every n-th mail's forms as Word 97 .doc (3: a third of the mails)")
    parser.add_argument("--shipped", action="store_true",
                        help="with --burst: the shipped configuration ([mailbox] idle at its default) and a one-shot "
                             "poll of the same mails to compare with")
    parser.add_argument("--grow", action="store_true",
                        help="instead: the per-mail cost at 0, 1k, 5k, 10k processed mails (up to --grow-to)")
    parser.add_argument("--grow-to", type=int, default=10000, help="with --grow: the last checkpoint")
    parser.add_argument("--grow-window", type=int, default=200, help="with --grow: mails timed per checkpoint")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both",
                        help="with --burst/--grow: the database back-end(s); otherwise the full poll's "
                             "(postgres, else SQLite)")
    args = parser.parse_args(argv)
    if args.burst or args.grow:
        return deadline_modes(args)

    out: dict[str, Any] = {"mails": args.mails, "cpus": os.cpu_count(), "python": platform.python_version(),
                           "big": args.big, "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="mi-bench-") as tmp:
        workdir = Path(tmp)
        imap, sink, cfg = start_servers(args.server, workdir)
        pg_servers: list[Any] = []
        out["server"] = cfg["server"]
        cfg["big_limit_mb"] = args.big_limit_mb if args.big else 0
        cfg["empty_polls"] = args.empty_polls
        try:
            if args.mails:
                started = time.perf_counter()
                out["load"] = run_child(load_child, cfg, OFFICE, args.mails, args.seed,
                                        args.big_every if args.big else 0)
                out["load"]["seconds"] = round(time.perf_counter() - started, 1)
                out["load"]["warm_seconds"] = round(warm_server(cfg, OFFICE), 1)
                print(f"loaded {out['load']['mails']} mails in {out['load']['seconds']} s", file=sys.stderr)
                rounds = [_round(args, cfg, workdir, index, sink, pg_servers) for index in range(args.rounds)]
                middle = _median(rounds)
                chosen: dict[str, Any] = min(rounds, key=lambda r: abs(float(r.get("ratio", 0)) - middle))
                out.update(chosen)
                if len(rounds) > 1:
                    out["rounds"] = [{key: r[key]["seconds"] if key in ("floor", "pipeline") else r[key]
                                      for key in ("floor", "pipeline", "ratio") if key in r} for r in rounds]
            if args.empty_poll_mails:
                started = time.perf_counter()
                out["processed_load"] = run_child(replicate_child, cfg, PROCESSED_USER, args.empty_poll_mails)
                out["processed_load"]["seconds"] = round(time.perf_counter() - started, 1)
                warm_server(cfg, PROCESSED_USER)
                icfg = dict(cfg, profile=(args.profile + ".empty-poll.txt") if args.profile else None)
                out["empty_poll"] = run_child(empty_poll_child, icfg)
                print(f"empty poll: {out['empty_poll']['wall_ms_median']} ms", file=sys.stderr)
            out["cli"] = _cli_startup()
        finally:
            sink.stop()
            imap.stop()
            for server in pg_servers:
                import burst

                burst.stop_postgres(server)
    print_table(out)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    return 0


def deadline_modes(args: argparse.Namespace) -> int:
    """``--burst`` / ``--grow`` (see benchmarks/burst.py), on each back-end asked for."""
    import burst

    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    out: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "burst": [], "grow": []}
    with tempfile.TemporaryDirectory(prefix="mi-bench-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)
        imap, sink, cfg = start_servers(args.server, workdir)
        cfg["doc_every"] = args.doc_every
        out["server"] = cfg["server"]
        try:
            for db in databases:
                if args.burst:
                    out["burst"].append(burst.run_burst(cfg, sink, args.burst, args.seed + len(out["burst"]), db,
                                                     shipped=args.shipped))
                    print(f"burst on {db}: {out['burst'][-1]}", file=sys.stderr)
                    imap.stop()  # a fresh mailbox for the next back-end
                    imap, _unused, cfg2 = start_servers(cfg["server"], workdir / f"after-{db}", sink=sink)
                    cfg.update({k: cfg2[k] for k in ("host", "port", "maildir_root")})
                if args.grow:
                    out["grow"].append(burst.run_grow(cfg, db, args.grow_to, args.grow_window, args.seed))
        finally:
            sink.stop()
            imap.stop()
    print()
    print(f"mailintake deadline-day benchmark — server {out['server']}, {out['cpus']} CPUs, Python {out['python']}")
    burst.print_modes(out)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, ensure_ascii=False, indent=2, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
