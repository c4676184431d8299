"""Time parse_document on a typical one-form .docx (median of N runs, in milliseconds).

    uv run python benchmarks/parse_docx.py [--runs 200] [--table 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from mailintake.demo.samples.forms import make_form_docx
from parsers import load_definitions, parse_document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--table", type=int, default=3, choices=[1, 2, 3, 4])
    args = parser.parse_args()
    data = make_form_docx(args.table)
    definitions = load_definitions()
    parse_document(data, "warm-up.docx", definitions=definitions)  # imports, regex compilation
    timings = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = parse_document(data, "申报表.docx", definitions=definitions)
        timings.append((time.perf_counter() - start) * 1000)
    assert len(result.forms) == 1 and not result.flags
    print(f"parse_document, 表{args.table} .docx ({len(data) / 1024:.0f} KB), {args.runs} runs: "
          f"median {statistics.median(timings):.2f} ms, p95 {sorted(timings)[int(0.95 * len(timings)) - 1]:.2f} ms")


if __name__ == "__main__":
    main()
