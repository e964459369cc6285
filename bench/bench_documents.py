"""In-process benchmark of legal documents: the 行政处罚决定书 of a case driven through the real
workflow (temporary SQLite file migrated to head), measured three ways in the same run:

* baseline — a bare ReportLab A4 page with the same embedded CJK font and one line of text
  (what the PDF library and font subsetting cost at minimum);
* render   — ``documents.pdf.render_pdf`` of the decision's spec (GB/T 9704 layout, ~1–2 pages);
* issue    — ``documents.issue.issue_document`` (template + facts from the case, 文号 row lock,
  render, content-addressed store, row, audit entry, outbox event, commit); each one a correction
  of the previous, since a case has one live 决定书.

Prints documents/s and p50/p99 per document for each, the ratios to the baseline, and one JSON
line. Asserts nothing.

    .venv/bin/python bench/bench_documents.py [--seconds 3]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "cases" / "tests"))


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _measure(fn, seconds: float) -> dict:
    fn()  # warm-up (font registration, template parsing)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 20:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    return {"per_s": len(times) / total, "p50_ms": statistics.median(times) * 1000,
            "p99_ms": _percentile(times, 0.99) * 1000, "n": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    os.environ["CASES_DOCUMENT_DIR"] = str(tmp / "documents")
    os.environ.setdefault("FUNDGUARD_VAR_DIR", str(tmp))

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from casekit import PEOPLE, Desk, fast_engine
    from fundguard_cases import eventtypes  # noqa: F401
    from fundguard_cases import service
    from fundguard_cases.documents import issue, pdf
    from fundguard_cases.models import Case
    from fundguard_shared.db import make_sessionmaker
    from fundguard_shared.migrate import upgrade

    db = tmp / "cases.db"
    upgrade("fundguard_cases", f"sqlite:///{db}")
    engine = fast_engine(f"sqlite:///{db}")
    sessions = make_sessionmaker(engine)
    desk = Desk(sessions)
    c = desk.new_case()
    desk.to_notified(c)
    desk.fire(c, "waive_rights", "institution")
    desk.fire(c, "decide", "leader", {"decision": "sanction", "sanctions": [
        {"kind": "fine", "article": "38", "amount": "150000.00"},
        {"kind": "order_refund", "article": "38", "amount": "120000.00"}]})
    fields = {"party_address": "成都市武侯区某某路 1 号", "evidence": "住院病历、结算清单、询问笔录"}
    leader, today = PEOPLE["leader"], date(2026, 3, 2)

    with sessions() as s:
        prep = issue.prepare(s, s.get(Case, c), "decision", leader, fields, today=today)
        spec = issue.spec_of(prep.dt, prep.rendered, prep.auth, "510100医保罚〔2026〕1号", today)
    font = pdf._font()

    def baseline():
        buf = io.BytesIO()
        cv = canvas.Canvas(buf, pagesize=A4, invariant=1, initialFontName=font)
        cv.setFont(font, 16)
        cv.drawString(80, 700, "行政处罚决定书 510100医保罚〔2026〕1号")
        cv.showPage()
        cv.save()
        return buf.getvalue()

    def render():
        return pdf.render_pdf(spec)

    last: list[str] = []

    def issue_one():  # each a correction of the previous one (one live decision per case)
        with sessions() as s, s.begin():
            case = service.get_case(s, c, leader)
            doc = issue.issue_document(s, case, "decision", leader, fields, corrects=last[-1] if last else None,
                                       today=today)
            last.append(doc.id)

    size = len(render())
    base = _measure(baseline, args.seconds)
    rend = _measure(render, args.seconds)
    full = _measure(issue_one, args.seconds)
    print(f"行政处罚决定书 ({size:,} bytes PDF, {len(spec.paragraphs)} paragraphs), load {os.getloadavg()[0]:.2f}")
    for label, m in (("baseline: bare ReportLab page, same font", base),
                     ("render_pdf(决定书)", rend), ("issue_document(决定书) on SQLite", full)):
        print(f"  {label:42s} {m['per_s']:8.1f}/s   p50 {m['p50_ms']:7.2f} ms   p99 {m['p99_ms']:7.2f} ms   n={m['n']}")
    print(f"  render / baseline time ratio (p50): {rend['p50_ms'] / base['p50_ms']:.1f}×;"
          f" issue / render (p50): {full['p50_ms'] / rend['p50_ms']:.2f}×")
    print(json.dumps({"baseline_per_s": round(base["per_s"], 1), "baseline_p50_ms": round(base["p50_ms"], 2),
                      "baseline_p99_ms": round(base["p99_ms"], 2),
                      "render_per_s": round(rend["per_s"], 1), "render_p50_ms": round(rend["p50_ms"], 2),
                      "render_p99_ms": round(rend["p99_ms"], 2),
                      "issue_per_s": round(full["per_s"], 1), "issue_p50_ms": round(full["p50_ms"], 2),
                      "issue_p99_ms": round(full["p99_ms"], 2), "pdf_bytes": size}))
    engine.dispose()


if __name__ == "__main__":
    main()
