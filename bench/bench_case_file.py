"""Case-file (一案一卷) export benchmark, in process: a case with 20 issued documents (a 行政处罚决定书
and 19 corrections, each rendered and frozen by the real issue path) exported as PDF and as ZIP,
against a baseline measured in the same run: a bare pypdf merge of the same 20 frozen PDFs.
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_case_file.py [--runs 30] [--documents 20]
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
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def _setup(tmp: Path, n_docs: int):
    os.environ["CASES_DATABASE_URL"] = f"sqlite:///{tmp / 'cases.db'}"
    os.environ["CASES_DOCUMENT_DIR"] = str(tmp / "blobs")
    os.environ.setdefault("FUNDGUARD_VAR_DIR", str(tmp))
    from fundguard_shared.migrate import upgrade
    upgrade("fundguard_cases", os.environ["CASES_DATABASE_URL"])
    from fundguard_cases import eventtypes, service  # noqa: F401
    from fundguard_cases.documents.issue import issue_document
    from fundguard_cases.models import Case
    from fundguard_cases.runtime import runtime
    from fundguard_shared.auth import Principal
    from fundguard_shared.events import make_event
    sessions = runtime().sessions
    people = {"inspector": Principal("insp-a", "inspector", region="510100", department="稽核一科"),
              "leader": Principal("leader-a", "leader", region="510100"),
              "legal_reviewer": Principal("legal-a", "legal_reviewer", region="510100"),
              "institution": Principal("inst-a", "institution", institution_id="H5101001")}
    today = date(2026, 3, 2)
    fid = str(uuid.uuid4())
    ev = make_event("finding.recorded", {
        "finding_id": fid, "institution_id": "H5101001", "institution_name": "成都某某医院", "party_type": "entity",
        "region": "510100", "department": "稽核一科", "violation_type": "split_admission",
        "legal_basis": "条例第三十八条", "amount": "120000.00", "description": "分解住院", "source": "flight_inspection",
        "act_date": date(2026, 1, 10)}, subject=f"finding:{fid}", sequence=1, producer="inspection", actor="insp-a")
    ev = ev.__class__(**{**ev.__dict__, "occurred_at": datetime(2026, 3, 2, 2, tzinfo=timezone.utc),
                         "payload": {**ev.payload, "amount": Decimal("120000.00"), "act_date": date(2026, 1, 10)}})
    with sessions() as s, s.begin():
        case_id = service.open_clue_from_finding(s, ev).id
    steps = [("start_verification", "inspector", {}),
             ("open_case", "leader", {"officers": [{"id": "insp-a", "name": "张三", "credential_no": "川医保执 001"},
                                                   {"id": "insp-b", "name": "李四", "credential_no": "川医保执 002"}]}),
             ("start_investigation", "inspector", {}),
             ("submit_report", "inspector", {"proposal": "sanction", "sanctions": [
                 {"kind": "fine", "article": "38", "amount": "150000.00"},
                 {"kind": "order_refund", "article": "38", "amount": "120000.00"}]}),
             ("submit_for_review", "inspector", {}), ("pass_review", "legal_reviewer", {}),
             ("notify", "inspector", {}), ("waive_rights", "institution", {}),
             ("decide", "leader", {"decision": "sanction", "sanctions": [
                 {"kind": "fine", "article": "38", "amount": "150000.00"},
                 {"kind": "order_refund", "article": "38", "amount": "120000.00"}]})]
    for trigger, who, data in steps:
        with sessions() as s, s.begin():
            case = service.get_case(s, case_id, people[who])
            service.transition(s, case, trigger, people[who], "理由", "bench", data, today=today)
    last = None
    for i in range(n_docs):
        with sessions() as s, s.begin():
            doc = issue_document(s, s.get(Case, case_id), "decision", people["leader"],
                                 {"party_address": f"成都市锦江区红星路{i + 1}号", "evidence": "病历、票据、询问笔录"},
                                 corrects=last, today=today)
            last = doc.id
    return sessions, case_id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--documents", type=int, default=20)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fg-bench-casefile-") as tmp:
        t0 = time.perf_counter()
        sessions, case_id = _setup(Path(tmp), a.documents)
        print(f"setup: case with {a.documents} issued documents in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        from pypdf import PdfWriter

        from fundguard_cases.documents import casefile
        from fundguard_cases.documents.store import get_blob
        from fundguard_cases.models import Case
        with sessions() as s:
            blobs = [get_blob(d.sha256) for d in casefile.documents_of(s, case_id)]

        def baseline():
            w = PdfWriter()
            for b in blobs:
                w.append(io.BytesIO(b))
            out = io.BytesIO()
            w.write(out)
            return out.getvalue()

        def export(fmt):
            with sessions() as s:
                cf = casefile.collect(s, s.get(Case, case_id), "bench")
                pdf = casefile.render(s, cf)
                return pdf if fmt == "pdf" else casefile.build_zip(s, cf, pdf)

        figures = {}
        sizes = {}
        for name, fn in (("baseline_pypdf_merge", baseline), ("export_pdf", lambda: export("pdf")),
                         ("export_zip", lambda: export("zip"))):
            fn()  # warm (font registration, imports)
            times = []
            for _ in range(a.runs):
                start = time.perf_counter()
                data = fn()
                times.append(time.perf_counter() - start)
            sizes[name] = len(data)
            figures[name] = {"p50_ms": round(_pct(times, 50) * 1000, 1), "p99_ms": round(_pct(times, 99) * 1000, 1),
                             "mean_ms": round(statistics.mean(times) * 1000, 1),
                             "documents_per_s": round(a.documents / statistics.mean(times), 1),
                             "bytes": len(data)}
        zipped = export("zip")
        problems = casefile.verify_zip(zipped)
        vt = []
        for _ in range(a.runs):
            start = time.perf_counter()
            casefile.verify_zip(zipped)
            vt.append(time.perf_counter() - start)
        figures["verify_zip"] = {"p50_ms": round(_pct(vt, 50) * 1000, 1), "p99_ms": round(_pct(vt, 99) * 1000, 1),
                                 "problems": len(problems)}
        base = figures["baseline_pypdf_merge"]["p50_ms"]
        print(f"case file with {a.documents} documents, {a.runs} runs each (load avg {os.getloadavg()[0]:.2f})")
        print(f"{'':24}{'p50 ms':>10}{'p99 ms':>10}{'docs/s':>10}{'× baseline':>12}{'bytes':>12}")
        for name, f in figures.items():
            if name == "verify_zip":
                continue
            print(f"{name:24}{f['p50_ms']:>10}{f['p99_ms']:>10}{f['documents_per_s']:>10}"
                  f"{f['p50_ms'] / base if base else 0:>12.2f}{f['bytes']:>12}")
        print(f"{'verify_zip':24}{figures['verify_zip']['p50_ms']:>10}{figures['verify_zip']['p99_ms']:>10}"
              f"   problems={len(problems)}")
        print(json.dumps({"documents": a.documents, "runs": a.runs, **figures}))


if __name__ == "__main__":
    main()
