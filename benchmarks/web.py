"""Console benchmark: each page's time with 10,000 mails and 3,000 submissions, and the worker's
poll time with and without someone browsing the console.

    uv run python benchmarks/web.py [--mails 10000] [--forms 3000] [--repeat 5] [--json OUT]

Rows are bulk-inserted directly (not measured). The console runs as ``mailintake web`` in its own
process, as in production; pages are fetched over loopback with httpx (one warm-up, then
``--repeat`` timed requests: median and max). The poll part starts pymap, lets the worker process
the demo's sample mails once, then times ``poll_once`` (an empty poll, and a poll of five new mails)
alone and while a second process browses the console in a loop (``--pause`` seconds between pages;
0.25 s is a busy office, 0 is flat out). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

PROJECT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-key-0123456789abcdef"
LOGIN, PASSWORD = "bench", "bench-password"
UTC = dt.UTC
BROWSER = """
import itertools, re, sys, time, httpx
url, pause, pages = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
with httpx.Client(base_url=url, timeout=30) as c:
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    c.post("/login", data={"username": "bench", "password": "bench-password", "csrf_token": token})
    for n, path in enumerate(itertools.cycle(pages), 1):
        c.get(path)
        print(n, flush=True)
        time.sleep(pause)
"""


START = dt.datetime(2019, 12, 1, tzinfo=UTC)
Rows = tuple[list[Any], list[Any]]
STATUSES = ["accepted"] * 6 + ["needs_correction", "late", "no_form", "ignored"]
NAMES = ["王晓雯", "李静", "张磊", "刘芳", "陈志远", "赵磊", "吴倩", "周敏", "孙伟", "杨洋"]


def mail_rows(rng: random.Random, units: list[str], mails: int, raw_rel: str) -> Rows:
    messages, replies = [], []
    for i in range(1, mails + 1):
        unit, when, sender = rng.choice(units), START + dt.timedelta(minutes=3 * i), f"sender{i % 900}@qq.com"
        messages.append({
            "id": i, "message_id": f"<bench-{i}@example.com>", "sha256": f"{i:064x}", "folder": "BENCH",
            "uidvalidity": 1, "uid": i, "from_addr": sender, "from_name": f"{unit} 联系人{i % 97}",
            "reply_to": [], "subject": f"双争双创申报材料（{unit}）第{i}封", "date_header": "", "received_at": when,
            "size": 50_000, "raw_path": raw_rel, "status": rng.choice(STATUSES), "flags": [], "attempts": 1,
            "receipt_no": f"2019-{i:05d}", "created_at": when})
        replies.append({
            "message_pk": i, "kind": "receipt", "recipients": [sender], "cc": [],
            "subject": f"Re: 申报回执 2019-{i:05d}",
            "raw": b"Subject: re\r\n\r\n" + "您好！已收到。".encode() * 20, "status": "sent" if i % 50 else "failed",
            "attempts": 1, "next_attempt_at": START, "created_at": START})
    return messages, replies


def form_rows(rng: random.Random, units: list[str], mails: int, forms: int, doc_rel: str) -> Rows:
    attachments, submissions = [], []
    for i in range(1, forms + 1):
        pk, table, unit, words = 1 + (i * 3) % mails, 1 + i % 4, rng.choice(units), rng.choice([300, 700, 1050])
        name = rng.choice(NAMES)
        flags = [{"code": "overlong", "message": f"字数为{words}字，超过1000字的限制"}] if words > 1000 else []
        attachments.append({"id": i, "message_pk": pk, "path": f"表{table} 申报表（{unit}）.docx",
                            "sha256": f"{i:064x}", "size": 37_000, "format": "docx", "storage_path": doc_rel,
                            "flags": []})
        submissions.append({
            "id": i, "message_pk": pk, "attachment_id": i, "table_no": table, "title": f"表{table}",
            "fields": {"unit": unit, "name": name, "deeds": "事迹" * (words // 2)},
            "word_count": words, "flags": flags, "identity_key": f"{table}|{name}|{unit}|{i}", "unit": unit,
            "current": i % 10 != 0, "received_at": START + dt.timedelta(minutes=3 * pk), "created_at": START})
    return attachments, submissions


def fill(factory: Any, settings: Any, mails: int, forms: int) -> dict[str, Any]:
    """Insert mails, attachments, submissions, replies, reports and audit rows in bulk."""
    from mailintake.campaign.sources import load_sources
    from mailintake.db.models import AttachmentRow, AuditEntry, Message, OutboxItem, Report, Submission
    from mailintake.db.storage import Storage
    from mailintake.demo.samples.forms import make_form_docx

    rng = random.Random(7)
    units = [u.name for u in load_sources(settings).roster]
    storage = Storage(settings.path(settings.storage.dir))
    storage.ensure_writable()
    _, doc_rel = storage.put(make_form_docx(3))
    _, raw_rel = storage.put(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")
    messages, replies = mail_rows(rng, units, mails, raw_rel)
    attachments, submissions = form_rows(rng, units, mails, forms, doc_rel)
    folder = settings.path(settings.report.dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "r.html").write_text("<h1>日报</h1>", "utf-8")
    (folder / "r.xlsx").write_bytes(b"PK\x03\x04")
    reports = [{"for_date": dt.date(2019, 12, d), "generated_at": START + dt.timedelta(days=d), "sent": True,
                "html_path": str(folder / "r.html"), "xlsx_path": str(folder / "r.xlsx")} for d in range(1, 20)]
    audit = [{"at": START + dt.timedelta(minutes=i), "actor": "clerk", "origin": "10.0.0.1", "action": "login",
              "detail": "登录成功"} for i in range(2000)]
    with factory() as session, session.begin():
        for model, rows in ((Message, messages), (AttachmentRow, attachments), (Submission, submissions),
                            (OutboxItem, replies), (Report, reports), (AuditEntry, audit)):
            for chunk in range(0, len(rows), 2000):
                session.execute(insert(model), rows[chunk:chunk + 2000])
    return {"unit": units[0], "mail": mails // 2, "attachment": 1}


def pages(ids: dict[str, Any]) -> list[str]:
    from urllib.parse import quote

    return ["/", "/mails", "/mails?page=100", "/mails?status=needs_correction", "/mails?q=%E5%88%98%E8%8A%B3",
            f"/mails/{ids['mail']}", "/units", f"/units/{quote(ids['unit'])}", "/submissions?table=1",
            "/submissions?table=3&sort=words&dir=desc&page=5", "/reports", "/audit", "/audit?page=30",
            f"/attachments/{ids['attachment']}", "/healthz"]


def start_console(config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MAILINTAKE_WEB__SECRET_KEY": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "mailintake", "-q", "--config", str(config), "web",
                             "--port", str(port)], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("console did not start")


def time_pages(url: str, paths: list[str], repeat: int) -> dict[str, dict[str, float]]:
    import re

    result: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        assert client.post("/login", data={"username": LOGIN, "password": PASSWORD,
                                           "csrf_token": token.group(1)}).status_code == 303
        for path in paths:
            assert client.get(path).status_code == 200, path
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - began) * 1000)
            result[path] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}
    return result


def time_polls(settings: Any, factory: Any, server: Any, rounds: int) -> dict[str, float]:
    from mailintake.demo.session import sample_mails
    from mailintake.intake.cycle import make_pool, poll_once
    from tests.support.servers import append_mail

    with make_pool(settings) as pool:
        empty, cpu = [], []
        for _ in range(rounds + 1):
            began, began_cpu = time.perf_counter(), time.process_time()
            poll_once(settings, factory, pool=pool)
            empty.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        busy = []
        for n in range(2):
            for sample in sample_mails(with_doc=False)[:5]:
                tag = f"Message-ID: <r{time.monotonic_ns()}-{n}-".encode()
                append_mail(server, sample.raw.replace(b"Message-ID: <", tag, 1), sample.internaldate)
            began = time.perf_counter()
            poll_once(settings, factory, pool=pool)
            busy.append((time.perf_counter() - began) * 1000)
    return {"empty_poll_median_ms": round(statistics.median(empty[1:]), 1),
            "empty_poll_cpu_median_ms": round(statistics.median(cpu[1:]), 1),
            "new_mail_poll_median_ms": round(statistics.median(busy), 1)}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--forms", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--polls", type=int, default=6)
    parser.add_argument("--pause", type=float, default=0.25,
                        help="seconds between the browsing process's requests (0: flat out)")
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def main() -> None:
    args = arguments()

    from mailintake.config.settings import load_settings
    from mailintake.db.audit import Actor
    from mailintake.db.engine import open_database
    from mailintake.demo.session import OFFICE, sample_mails, start_servers, write_config
    from mailintake.intake.cycle import poll_once
    from mailintake.office.users import add_user
    from tests.support.servers import append_mail, free_port

    with tempfile.TemporaryDirectory(prefix="mi-web-bench-") as tmp:
        servers = start_servers()
        console = browser = None
        try:
            port = free_port()
            config = write_config(Path(tmp), imap_host=servers.imap.host, imap_port=servers.imap.port,
                                  username=OFFICE, password="demo-password", smtp_host=servers.sink.host,
                                  smtp_port=servers.sink.port, extra={"report": {"recipients": []}})
            settings = load_settings(config, environ={})
            factory = open_database(settings.database.url, settings.base_dir)
            began = time.perf_counter()
            ids = fill(factory, settings, args.mails, args.forms)
            with factory() as session, session.begin():
                add_user(session, Actor("bench", "CLI"), LOGIN, "clerk", PASSWORD)
            print(f"filled {args.mails} mails, {args.forms} submissions in {time.perf_counter() - began:.1f} s",
                  file=sys.stderr)
            for sample in sample_mails(with_doc=False):
                append_mail(servers.imap, sample.raw, sample.internaldate)
            poll_once(settings, factory)  # the sample is processed once, not measured
            console = start_console(config, port)
            url = f"http://127.0.0.1:{port}"
            page_times = time_pages(url, pages(ids), args.repeat)
            alone = time_polls(settings, factory, servers.imap, args.polls)
            browser = subprocess.Popen([sys.executable, "-c", BROWSER, url, str(args.pause), *pages(ids)[:-2]],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(2)
            browsing = time_polls(settings, factory, servers.imap, args.polls)
        finally:
            for proc in (browser, console):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
            servers.stop()
    requests = 0
    if browser is not None and browser.stdout is not None:
        lines = browser.stdout.read().split()
        requests = int(lines[-1]) if lines else 0
    show({"mails": args.mails, "forms": args.forms, "pages": page_times, "poll_alone": alone,
          "poll_while_browsing": browsing, "browser_requests": requests, "load": os.getloadavg()[0]}, args.json)


def show(report: dict[str, Any], out: Path | None) -> None:
    page_times = report["pages"]
    width = max(len(p) for p in page_times)
    print(f"{'page':<{width}}  median ms  max ms")
    for path, t in page_times.items():
        print(f"{path:<{width}}  {t['median_ms']:>9}  {t['max_ms']:>6}")
    print(f"load average at the end: {report['load']:.1f} on {os.cpu_count()} cores")
    print(f"poll alone:          {report['poll_alone']}")
    print(f"poll while browsing: {report['poll_while_browsing']} "
          f"({report['browser_requests']} page requests meanwhile)")
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")

if __name__ == "__main__":
    main()
