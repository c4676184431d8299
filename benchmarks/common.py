"""What the benchmarks share: the mail generator, the memory probe, child processes and local servers.

``generate`` makes realistic application mails (forms of 表1–表4 in the layouts applicants use, zips,
auto-replies, chatter, optional 60 MB scans) from a seed; ``TreeMemory`` samples the RSS of a process
tree; ``run_child`` runs a measured phase in a fresh process; ``start_servers`` starts Dovecot (when
installed) or pymap, and an SMTP sink.
"""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import os
import pwd
import random
import resource
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OFFICE = "office@example.gov.cn"

PROCESSED_USER = "processed@example.gov.cn"

USERS = {OFFICE: "secret", PROCESSED_USER: "secret"}

CST = dt.timezone(dt.timedelta(hours=8))

BIG_BYTES = 60 * 1024 * 1024

FETCH_BATCH = 50

UNIT_MARK = "UNITMARKER"

NAME_MARK = "NAMEMARKER"

DISTRICTS = ["姑苏区", "吴中区", "相城区", "吴江区", "虎丘区", "工业园区", "常熟市", "张家港市", "昆山市", "太仓市"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"

GIVEN = "晓明静华伟芳娜敏强磊军洋勇艳杰娟涛超秀霞平刚桂英"

VARIANT_WEIGHTS = {"plain": 80, "sdt": 5, "tracked": 5, "label_cell": 5, "rich": 5}

LENGTHS = (300, 700, 1050)  # narrative 字数: short, typical, just over the limit



@dataclass
class GeneratedMail:
    raw: bytes
    received_at: dt.datetime
    forms: int  # forms the pipeline should find
    kind: str  # one | several | zip | no_form | auto
    big: bool = False



def _fields(table: int, length: int) -> dict[str, str]:
    from mailintake.demo.samples.forms import filler

    text = filler(length)
    if table == 1:
        return {"unit": UNIT_MARK, "project": f"{NAME_MARK}改革项目\n" + filler(40, start=3),
                "recognition": filler(60, start=5), "summary": text[: max(0, length - 100)]}
    if table == 2:
        return {"unit": UNIT_MARK, "deeds": text}
    return {"name": NAME_MARK, "recommender": UNIT_MARK, "unit_and_title": f"{UNIT_MARK} 科员", "deeds": text}



def _rewrite(docx: bytes, unit: str, name: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(UNIT_MARK.encode(), unit.encode()).replace(NAME_MARK.encode(), name.encode())
            target.writestr(info, data)
    return out.getvalue()



class FormFactory:
    """Unique filled-in forms: a few python-docx builds (~60 ms each), then marker rewriting (~1 ms).

    Every file differs, so the pipeline's per-hash deduplication cannot shortcut the parsing.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._templates: dict[tuple[int, str, int], bytes] = {}
        self.serial = 0

    def _template(self, table: int, variant: str, length: int) -> bytes:
        from mailintake.demo.samples.forms import make_form_docx

        key = (table, variant, length)
        if key not in self._templates:
            self._templates[key] = make_form_docx(table, _fields(table, length), variant=variant)
        return self._templates[key]

    def unit(self) -> str:
        return f"{self.rng.choice(DISTRICTS)}第{self.rng.randint(1, 60)}政务服务中心"

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.choices(GIVEN, k=self.rng.randint(1, 2)))

    def form(self, unit: str | None = None) -> tuple[int, bytes]:
        rng = self.rng
        table = rng.choice((1, 1, 2, 3, 4))
        variant = rng.choices(list(VARIANT_WEIGHTS), weights=list(VARIANT_WEIGHTS.values()))[0]
        length = rng.choices(LENGTHS, weights=(30, 60, 10))[0]
        self.serial += 1
        name = f"{self.person()}{self.serial}" if table in (3, 4) else f"第{self.serial}号"
        return table, _rewrite(self._template(table, variant, length), unit or self.unit(), name)



def _big_scan(rng: random.Random) -> bytes:
    """A 60 MB PDF-signed scan (incompressible, unique)."""
    return b"%PDF-1.4\n%" + rng.randbytes(16) + os.urandom(BIG_BYTES - 26)



def generate(count: int, *, seed: int = 7, big_every: int = 0) -> Iterator[GeneratedMail]:
    """``count`` mails in arrival order (16–18 Dec 2019 China time; the last few after the deadline).

    Mix: ~70 % one .docx, ~15 % two or three, ~10 % a zip of 5–10 forms (GBK member names), ~5 % a
    question without a form or an auto-reply; client styles rotate (QQ, 163, Outlook, Foxmail, …).
    """
    from mailintake.demo.samples.mails import CLIENTS, MessageBuilder, zip_archive

    rng = random.Random(seed)
    factory = FormFactory(rng)
    clients = list(CLIENTS)
    start = dt.datetime(2019, 12, 16, 8, 0, tzinfo=CST)
    step = dt.timedelta(seconds=max(1, (3 * 24 * 3600 - 4 * 3600) // max(count, 1)))
    for index in range(count):
        received = start + step * index
        unit = factory.unit()
        domain = rng.choice(["qq.com", "163.com", "sz.gov.cn"])
        builder = MessageBuilder(clients[index % len(clients)]).sender(f"{unit}办公室", f"u{index}@{domain}")
        builder.date(received.strftime("%a, %d %b %Y %H:%M:%S +0800")).message_id(f"<bench{index}.{seed}@example.cn>")
        roll = rng.random()
        forms = 0
        if roll < 0.70:
            kind = "one"
            table, data = factory.form(unit)
            builder.subject(f"双争双创申报材料（表{table}）{unit}").attach(f"表{table} {unit}申报表.docx", data)
            forms = 1
        elif roll < 0.85:
            kind = "several"
            for position in range(rng.randint(2, 3)):
                table, data = factory.form(unit)
                builder.attach(f"表{table}-{position + 1}.docx", data)
                forms += 1
            builder.subject(f"{unit}双争双创申报材料")
        elif roll < 0.95:
            kind = "zip"
            members = []
            for position in range(rng.randint(5, 10)):
                table, data = factory.form()
                members.append((f"{unit}汇总/表{table}-{position + 1}.docx", data))
            forms = len(members)
            builder.subject(f"{unit}转报申报材料（{forms}份）").attach(f"{unit}申报材料.zip", zip_archive(members))
        elif roll < 0.975:
            kind = "no_form"
            builder.subject("请问申报截止时间").text("您好，请问本次申报的截止时间是哪一天？谢谢。")
        else:
            kind = "auto"
            builder.subject("自动回复：休假中").text("您好，我正在休假，将于返回后回复。").auto_reply()
        big = big_every > 0 and index % big_every == big_every // 2
        if big:
            builder.attach("申报材料扫描件.pdf", _big_scan(rng), "application/pdf")
        yield GeneratedMail(builder.build(), received, forms, kind, big)



def account(mails: Iterator[GeneratedMail], put: Callable[[int, GeneratedMail], None]) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    forms = big = size = 0
    for index, mail in enumerate(mails):
        put(index, mail)
        kinds[mail.kind] += 1
        forms += mail.forms
        big += mail.big
        size += len(mail.raw)
    return {"mails": sum(kinds.values()), "kinds": dict(kinds), "forms": forms, "big": big, "bytes": size}



class TreeMemory:
    """Samples the RSS of this process's descendants (parser workers hang below the forkserver)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_tree_kb = 0
        self.peak_child_hwm_kb = 0
        self.child_cpu: dict[int, float] = {}  # pid -> utime + stime seen last (seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @staticmethod
    def descendants(pid: int) -> list[int]:
        found: list[int] = []
        stack = [pid]
        while stack:
            current = stack.pop()
            try:
                tasks = os.listdir(f"/proc/{current}/task")
            except OSError:
                continue
            for task in tasks:
                try:
                    with open(f"/proc/{current}/task/{task}/children") as handle:
                        kids = [int(k) for k in handle.read().split()]
                except OSError:
                    continue
                found.extend(kids)
                stack.extend(kids)
        return found

    @staticmethod
    def status(pid: int) -> tuple[int, int]:
        rss = hwm = 0
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm = int(line.split()[1])
        except OSError:
            pass
        return rss, hwm

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        me = os.getpid()
        total = self.status(me)[0]
        for pid in self.descendants(me):
            rss, hwm = self.status(pid)
            total += rss
            self.peak_child_hwm_kb = max(self.peak_child_hwm_kb, hwm)
            cpu = self._cpu(pid)
            if cpu is not None:
                self.child_cpu[pid] = cpu
        self.peak_tree_kb = max(self.peak_tree_kb, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def report(self) -> dict[str, float]:
        self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {
            "self_peak_mb": round(self_kb / 1024, 1),
            "children_peak_mb": round(max(children_kb, self.peak_child_hwm_kb) / 1024, 1),
            "self_plus_children_mb": round((self_kb + max(children_kb, self.peak_child_hwm_kb)) / 1024, 1),
            "tree_sampled_peak_mb": round(self.peak_tree_kb / 1024, 1),
            "children_cpu_seconds": round(sum(self.child_cpu.values()), 2),
        }



def run_child(target: Callable[..., None], *args: Any) -> Any:
    """Run ``target(*args, queue)`` in a fresh spawned process and return what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} exited with {process.exitcode}")
    return result



def start_servers(kind: str, workdir: Path, sink: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    from tests.support.servers import dovecot_binary, start_dovecot, start_imap_server, start_smtp_sink

    if kind == "auto":
        kind = "dovecot" if dovecot_binary() else "pymap"
    cfg: dict[str, Any]
    if kind == "dovecot":
        imap: Any = start_dovecot(workdir / "dovecot", USERS)
        cfg = {"server": "dovecot", "maildir_root": str(imap.work / "mail"),
               "mail_user": "nobody" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name}
    else:
        imap = start_imap_server(USERS)
        cfg = {"server": "pymap"}
    sink = sink or start_smtp_sink()
    cfg.update({"host": imap.host, "port": imap.port, "smtp_host": sink.host, "smtp_port": sink.port,
                "workdir": str(workdir)})
    return imap, sink, cfg


def tree_rss_kb(pid: int) -> int:
    """The RSS of ``pid`` and all its descendants, in KiB."""
    return sum(TreeMemory.status(p)[0] for p in [pid, *TreeMemory.descendants(pid)])
