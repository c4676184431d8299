"""Start-up cost of a one-shot command: ``mailintake --help`` vs a ``mailintake poll`` that finds nothing new.

The service is ``mailintake run`` (IDLE; an idle cycle costs milliseconds in-process). ``poll`` is the
same cycle run once — for a first fill, a manual check, or cron where someone insists — and pays for
the interpreter, the settings' validation, SQLAlchemy, the database and the IMAP login every time.
This measures that honestly. Each case gets its own pymap server (in this process) holding N small
mails and a database (SQLite; PostgreSQL with ``--db postgres``/``both``, a throwaway server) already
holding those N mails as processed (seeded directly: running 10,000 mails through the pipeline would
take minutes and measures nothing here).

    uv run python benchmarks/startup.py [--mails 10 10000] [--runs 7] [--db sqlite|postgres|both] [--json OUT]

Measured: ``--help``; ``poll`` with nothing new (the whole cycle: settings, database, login, search);
and the floor ``python -c 'import sqlalchemy.orm, pydantic, imapclient'``. Each figure is the median of
``--runs`` fresh processes (one more first, discarded as a warm-up); wall and CPU (user + system of the
child, ``RUSAGE_CHILDREN``). CPU is the steadier figure on a loaded machine; the load average before
and after is printed with the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent


def tiny_mail(n: int) -> bytes:
    return (f"From: u{n} <u{n}@qq.com>\r\nTo: office@example.gov.cn\r\nSubject: s{n}\r\n"
            f"Message-ID: <startup{n}@qq.com>\r\nDate: Mon, 16 Dec 2019 10:00:00 +0800\r\n\r\nhello\r\n").encode()


def seed(url: str, uidvalidity: int, uids: list[int]) -> None:
    """The mails ``uids`` processed (messages + ledger) and the folder's state, as after real polls."""
    from sqlalchemy import insert

    from mailintake.db.engine import open_database
    from mailintake.db.models import Ledger, MailboxState, Message

    factory = open_database(url)
    now = dt.datetime.now(dt.UTC)
    with factory() as session, session.begin():
        session.execute(insert(Message), [
            {"id": n, "message_id": f"<startup{n}@qq.com>", "sha256": f"{n:064x}", "folder": "INBOX",
             "uidvalidity": uidvalidity, "uid": n, "from_addr": f"u{n}@qq.com", "received_at": now,
             "status": "no_form", "processed_at": now} for n in uids])
        session.execute(insert(Ledger), [
            {"folder": "INBOX", "uidvalidity": uidvalidity, "uid": n, "message_pk": n, "outcome": "processed",
             "seen_at": now} for n in uids])
        session.add(MailboxState(folder="INBOX", uidvalidity=uidvalidity, last_uid=max(uids)))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], runs: int, env: dict[str, str],
          before: Callable[[], None] | None = None) -> dict[str, float]:
    """Median wall and CPU (user + system) time of ``runs`` fresh processes, in ms (``before`` each one)."""
    walls, cpus = [], []
    for index in range(runs + 1):
        if before is not None:
            before()
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=120)
        elapsed, cpu_used = (time.perf_counter() - started) * 1000, (_children_cpu() - cpu) * 1000
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")
        if index:
            walls.append(elapsed)
            cpus.append(cpu_used)
    return {"median_ms": round(statistics.median(walls), 1), "min_ms": round(min(walls), 1),
            "cpu_ms": round(statistics.median(cpus), 1)}


def database(kind: str, directory: Path, servers: list[Any]) -> str:
    if kind == "sqlite":
        return f"sqlite:///{directory / 'mailintake.db'}"
    sys.path.insert(0, str(PROJECT))
    from tests.support.postgres import PostgresUnavailable, new_server

    try:
        server = new_server(prefix="mi-startup-pg-")
    except PostgresUnavailable as exc:
        raise SystemExit(str(exc)) from None
    servers.append(server)
    return str(server.create_database())


def measure(count: int, runs: int, workdir: Path, db: str, servers: list[Any]) -> dict[str, Any]:
    from mailintake.demo.session import write_config
    from tests.support.servers import append_many, folder_uidvalidity, start_imap_server

    server = start_imap_server()
    try:
        append_many(server, (tiny_mail(n) for n in range(1, count + 1)))
        directory = workdir / f"{db}-n{count}"
        directory.mkdir(parents=True)
        url = database(db, directory, servers)
        config = write_config(directory, imap_host=server.host, imap_port=server.port, username=server.username,
                              password=server.password, smtp_host="127.0.0.1", smtp_port=9, database_url=url,
                              extra={"report": {"recipients": []}})
        client = server.client()
        try:
            client.select_folder("INBOX", readonly=True)
            uids = list(client.search("ALL"))
        finally:
            client.logout()
        assert len(uids) == count
        seed(url, folder_uidvalidity(server), uids)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
        mailintake = [sys.executable, "-m", "mailintake"]
        poll = [*mailintake, "--quiet", "--config", str(config), "poll"]
        first = subprocess.run([*poll, "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0 and json.loads(first.stdout)["fetched"] == 0, first.stdout + first.stderr
        help_ms = timed([*mailintake, "--help"], runs, env)
        floor_ms = timed([sys.executable, "-c", "import sqlalchemy.orm, pydantic, imapclient"], runs, env)
        poll_ms = timed(poll, runs, env)
    finally:
        server.stop()
    return {"mails": count, "db": db, "help": help_ms, "poll": poll_ms, "library_floor": floor_ms,
            "poll_minus_help_ms": round(poll_ms["median_ms"] - help_ms["median_ms"], 1),
            "poll_minus_help_cpu_ms": round(poll_ms["cpu_ms"] - help_ms["cpu_ms"], 1)}


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def report(rows: list[dict[str, Any]], load_before: str, command: str) -> None:
    print(f"load average (1/5/15 min): {load_before} before, {_load()} after, on {os.cpu_count()} CPUs"
          + ("  -- a shared, loaded machine: figures inflated" if os.getloadavg()[0] > 1.5 else ""))
    print(f"{'db':>8} {'mails':>7} {'--help':>14} {'poll':>14} {'poll - help':>14}")
    print(f"{'':>8} {'':>7} {'wall / CPU ms':>14} {'wall / CPU ms':>14} {'wall / CPU ms':>14}")
    for row in rows:
        help_, poll = row["help"], row["poll"]
        print(f"{row['db']:>8} {row['mails']:>7,} {help_['median_ms']:>7.0f} / {help_['cpu_ms']:<4.0f}"
              f"{poll['median_ms']:>7.0f} / {poll['cpu_ms']:<4.0f}"
              f"{row['poll_minus_help_ms']:>7.0f} / {row['poll_minus_help_cpu_ms']:<4.0f}")
    floor = rows[0]["library_floor"]
    print(f"floor: `python -c 'import sqlalchemy.orm, pydantic, imapclient'` {floor['median_ms']:.0f} ms wall, "
          f"{floor['cpu_ms']:.0f} ms CPU")
    print("poll: one `mailintake poll` with nothing new — the whole cycle `mailintake run` schedules, run once")
    print(f"reproduce: {command}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    load_before = _load()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    servers: list[Any] = []
    try:
        with tempfile.TemporaryDirectory(prefix="mailintake-startup-") as tmp:
            rows = [measure(count, args.runs, Path(tmp), kind, servers) for kind in kinds for count in args.mails]
    finally:
        if servers:
            from tests.support.postgres import remove_server

            for server in servers:
                remove_server(server)
    command = ("uv run python benchmarks/startup.py --mails " + " ".join(map(str, args.mails))
               + f" --runs {args.runs} --db {args.db}")
    report(rows, load_before, command)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"load_before": load_before, "load_after": _load(),
                                                   "command": command, "rows": rows}, indent=2), "utf-8")


if __name__ == "__main__":
    main()
