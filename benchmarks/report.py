"""Daily-report benchmark: build_report (HTML + 汇总表.xlsx) over ~1,000 submissions.

    uv run python benchmarks/report.py [--forms 1000] [--json OUT]

The database is filled through the real intake path (``IntakeCycle.process_batch``: MIME, parsing in
the sandboxed children, rules, per-mail transactions, queued replies) from the mails of
benchmarks/ingest.py, without an IMAP server; that part is not measured. Then ``build_report`` runs
twice in the same process: the first call includes importing Jinja2/openpyxl and loading the
roster, quotas and form definitions, the second is a warm worker's daily run. Goal: < 3 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import generate


def fill(settings: Any, session_factory: Any, forms: int) -> dict[str, Any]:
    """Store generated mails until at least ``forms`` submissions exist."""
    from mailintake.intake.cycle import IntakeCycle, make_pool
    from mailintake.intake.model import FetchedMail

    made = mails = 0
    batch: list[FetchedMail] = []
    with make_pool(settings) as pool:
        cycle = IntakeCycle(settings, session_factory, pool)
        cycle.storage.ensure_writable()
        for mail in generate(forms * 2, seed=23):
            mails += 1
            batch.append(FetchedMail(folder="INBOX", uidvalidity=1, uid=mails, received_at=mail.received_at,
                                     size=len(mail.raw), raw=mail.raw))
            made += mail.forms
            if len(batch) == 50 or made >= forms:
                cycle.process_batch(batch)
                batch = []
            if made >= forms:
                break
    return {"mails": mails, "counts": dict(cycle.counter)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forms", type=int, default=1000)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)

    from sqlalchemy import func, select

    from mailintake.config.settings import load_settings
    from mailintake.db.engine import open_database
    from mailintake.db.models import Submission

    with tempfile.TemporaryDirectory(prefix="mi-report-") as tmp:
        root = Path(tmp)
        settings = load_settings(environ={}, overrides={
            "database": {"url": f"sqlite:///{root / 'mailintake.db'}"},
            "storage": {"dir": str(root / "storage")},
            "report": {"dir": str(root / "reports")},
            "smtp": {"sender": "office@example.gov.cn", "security": "none", "host": "127.0.0.1", "port": 9},
        })
        session_factory = open_database(settings.database.url)
        started = time.perf_counter()
        filled = fill(settings, session_factory, args.forms)
        filled["seconds"] = round(time.perf_counter() - started, 1)
        with session_factory() as session:
            filled["submissions"] = session.scalar(select(func.count()).select_from(Submission))

        from mailintake.report.build import build_report

        runs: list[dict[str, Any]] = []
        for label in ("first (cold imports)", "second (warm)"):
            with session_factory() as session, session.begin():
                wall0, cpu0 = time.perf_counter(), time.process_time()
                files = build_report(settings, session)
                runs.append({"run": label, "seconds": round(time.perf_counter() - wall0, 3),
                             "cpu_seconds": round(time.process_time() - cpu0, 3),
                             "html_kb": round(files.html_path.stat().st_size / 1024),
                             "xlsx_kb": round(files.xlsx_path.stat().st_size / 1024),
                             "summary_forms": files.summary.get("forms_total")})
    out = {"filled": filled, "runs": runs,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(f"daily report over {filled['submissions']} submissions from {filled['mails']} mails "
          f"(filled in {filled['seconds']} s, not measured)")
    for run in runs:
        verdict = "OK" if run["seconds"] < 3 else "MISSED"
        print(f"  build_report {run['run']:<22} {run['seconds']:6.2f} s wall, {run['cpu_seconds']:6.2f} s CPU  "
              f"(goal < 3 s: {verdict}); HTML {run['html_kb']} KB, xlsx {run['xlsx_kb']} KB")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
