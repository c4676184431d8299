"""Start-up cost of a one-shot command: ``mailintake --help`` vs an idle ``mailintake poll``.

Cron users run ``poll`` every few minutes, so an idle poll (nothing new in the mailbox) must cost
little beyond the interpreter and the CLI: the goal is < 300 ms beyond ``--help``, the same at 10
and at 10,000 processed mails. Each case gets its own pymap server (in this process) holding N small
mails and a SQLite database already holding those N mails as processed (seeded directly: running
10,000 mails through the pipeline would take minutes and measures nothing here).

    uv run python benchmarks/startup.py [--mails 10 10000] [--runs 7] [--json OUT]

Each figure is the median wall time of ``--runs`` fresh processes (the first run is discarded as a
warm-up of the page cache). Timings on a shared, loaded machine are noisy: compare the difference
between the rows, measured in the same run, rather than absolute values across runs.
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


def timed(command: list[str], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median wall and CPU (user + system) time of ``runs`` fresh processes, in ms."""
    walls, cpus = [], []
    for index in range(runs + 1):
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


def measure(count: int, runs: int, workdir: Path) -> dict[str, Any]:
    from mailintake.demo import write_config
    from mailintake.devservers import append_many, folder_uidvalidity, start_imap_server

    server = start_imap_server()
    try:
        append_many(server, (tiny_mail(n) for n in range(1, count + 1)))
        directory = workdir / f"n{count}"
        config = write_config(directory, imap_host=server.host, imap_port=server.port, username=server.username,
                              password=server.password, smtp_host="127.0.0.1", smtp_port=9,
                              extra={"report": {"recipients": []}})
        client = server.client()
        try:
            client.select_folder("INBOX", readonly=True)
            uids = list(client.search("ALL"))
        finally:
            client.logout()
        assert len(uids) == count
        seed(f"sqlite:///{directory / 'mailintake.db'}", folder_uidvalidity(server), uids)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
        mailintake = [sys.executable, "-m", "mailintake"]
        idle = subprocess.run([*mailintake, "--quiet", "--config", str(config), "poll", "--json"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert idle.returncode == 0 and json.loads(idle.stdout)["fetched"] == 0, idle.stdout + idle.stderr
        help_ms = timed([*mailintake, "--help"], runs, env)
        floor_ms = timed([sys.executable, "-c", "import sqlalchemy.orm, pydantic, imapclient"], runs, env)
        poll_ms = timed([*mailintake, "--quiet", "--config", str(config), "poll"], runs, env)
    finally:
        server.stop()
    return {"mails": count, "help": help_ms, "poll": poll_ms, "library_floor": floor_ms,
            "poll_minus_help_ms": round(poll_ms["median_ms"] - help_ms["median_ms"], 1),
            "poll_minus_help_cpu_ms": round(poll_ms["cpu_ms"] - help_ms["cpu_ms"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailintake-startup-") as tmp:
        rows = [measure(count, args.runs, Path(tmp)) for count in args.mails]
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'processed mails':>16} {'--help wall/cpu':>17} {'idle poll wall/cpu':>20} {'poll - help wall/cpu':>22}"
          "  goal < 300 ms")
    for row in rows:
        verdict = "OK" if row["poll_minus_help_ms"] < 300 else "MISSED"
        help_, poll = row["help"], row["poll"]
        print(f"{row['mails']:>16,} {help_['median_ms']:>8.0f} / {help_['cpu_ms']:>4.0f}ms "
              f"{poll['median_ms']:>10.0f} / {poll['cpu_ms']:>5.0f}ms "
              f"{row['poll_minus_help_ms']:>12.0f} / {row['poll_minus_help_cpu_ms']:>5.0f}ms  {verdict}")
    floor = rows[0]["library_floor"]
    print(f"floor: `python -c 'import sqlalchemy.orm, pydantic, imapclient'` {floor['median_ms']:.0f} ms wall, "
          f"{floor['cpu_ms']:.0f} ms CPU")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2), "utf-8")


if __name__ == "__main__":
    main()
