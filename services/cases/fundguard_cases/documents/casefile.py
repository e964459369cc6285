"""The case file (一案一卷): one case's whole file as one PDF and as a ZIP with a manifest.

Order: cover (卷宗封面), table of contents (卷内目录), every issued document in issue order — the
frozen PDF bytes from the blob store, pages included unchanged —, the evidence list (证据清单) with
SHA-256 hashes, and the audit trail (审计记录) with its hash chain.

The ZIP holds the merged ``case-file.pdf``, each document's original bytes under ``documents/``,
``evidence.json``, ``audit.json`` and ``case.json``, and ``manifest.json``: every file with its
SHA-256 and size, and the audit chain head. ``verify_zip`` (CLI ``fundguard-cases
verify-case-file``) re-checks every hash, every listed file's presence, files not listed, and
re-computes the audit chain from ``audit.json`` up to the head named in the manifest.
Every export is recorded in ``case_file_exports`` (who, when, the SHA-256 of what left).
"""
from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from pypdf import PdfReader, PdfWriter
from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fundguard_shared.db import UTCDateTime
from fundguard_shared.outbox import utcnow

from .. import attachments as case_attachments
from .. import audit, clock
from .. import evidence as case_evidence
from ..models import AuditEntry, Base, Case, CaseDetails, Deadline
from . import store
from .models import Document
from .pdf import PdfSpec, render_pdf

MANIFEST = "manifest.json"
FORMAT = "fundguard-case-file/1"
TOC_ROWS_PER_PAGE = 14  # rows of the contents table that fit on the first page (the rest ~18 a page)
SECTION_LABELS = {"cover": "卷宗封面", "toc": "卷内目录", "evidence": "证据清单", "audit": "审计记录（哈希链）"}


class CaseFileExport(Base):
    """Who exported which case file and the SHA-256 of what left the system."""
    __tablename__ = "case_file_exports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    files: Mapped[int] = mapped_column(Integer)
    audit_head: Mapped[str] = mapped_column(String(64))
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    exported_by: Mapped[str] = mapped_column(String(128))


class DocumentUnreadable(RuntimeError):
    """A document's stored PDF is missing or no longer matches its SHA-256."""

    def __init__(self, doc: Document, problem: str):
        super().__init__(f"{doc.id}: {problem}")
        self.document_id, self.title, self.problem = doc.id, doc.title, problem


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- what the file holds ----------------------------------------------------------------------------

def documents_of(session: Session, case_id: str) -> list[Document]:
    """Every document issued in the case, in issue order (voided ones stay, marked)."""
    return list(session.execute(select(Document).where(Document.case_id == case_id)
                                .order_by(Document.seq, Document.issued_at)).scalars())


def evidence_list(session: Session, case: Case, docs: list[Document]) -> list[dict]:
    """The evidence references the cases service holds: the finding the case came from, the files
    attached to it with their SHA-256 as the inspection service reported them (the files and their
    custody log stay in its evidence store), evidence under 先行登记保存 (items as recorded), and
    every issued document with its SHA-256."""
    items: list[dict] = []
    if case.finding_id:
        items.append({"kind": "finding", "label": "线索来源：稽核发现记录", "reference": case.finding_id,
                      "source_event_id": case.source_event_id, "sha256": None,
                      "held_by": "inspection", "note": "证据文件及其 SHA-256 由稽核服务证据库保存（verify-evidence 校验）"})
    for f in case_evidence.for_case(session, case):
        items.append({"kind": "evidence_file", "label": f"证据文件：{f.filename}", "reference": f.evidence_id,
                      "sha256": f.sha256, "size": f.size, "media_type": f.media_type, "held_by": "inspection",
                      "note": f"{f.media_type}，{f.size} 字节", "date": clock.china_date(f.added_at).isoformat(),
                      "source_event_id": f.source_event_id})
    items += case_attachments.evidence_rows(session, case)  # the parties' and staff's attachments
    preservations = session.execute(select(Deadline).where(Deadline.case_id == case.id,
                                                           Deadline.kind == "preservation_decision")
                                    .order_by(Deadline.started_on)).scalars().all()
    for p in preservations:
        items.append({"kind": "preservation", "label": "先行登记保存的证据", "reference": p.id,
                      "sha256": None, "held_by": "cases", "note": p.note or "", "date": p.started_on.isoformat()})
    for d in docs:
        items.append({"kind": "document", "label": f"{d.title} {d.number or ''}".strip(), "reference": d.id,
                      "sha256": d.sha256, "size": d.size, "held_by": "cases", "status": d.status,
                      "date": clock.china_date(d.issued_at).isoformat()})
    return items


def audit_trail(session: Session, case_id: str) -> dict:
    entries = session.execute(select(AuditEntry).where(AuditEntry.case_id == case_id)
                              .order_by(AuditEntry.seq)).scalars().all()
    report = audit.verify(session, case_id)
    return {"entries": [{"seq": e.seq, "at": audit._ts(e.at), "actor": e.actor, "actor_role": e.actor_role,
                         "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
                         "reason": e.reason or "", "request_id": e.request_id, "prev_hash": e.prev_hash,
                         "hash": e.hash} for e in entries],
            "head": entries[-1].hash if entries else audit.GENESIS, "ok": report.ok,
            "first_broken_seq": report.first_broken_seq, "problem": report.problem}


def _blob(doc: Document) -> bytes:
    try:
        return store.get_blob(doc.sha256)
    except store.BlobMissing:
        raise DocumentUnreadable(doc, "missing") from None
    except store.BlobCorrupt:
        raise DocumentUnreadable(doc, "altered") from None


# ---- the PDF --------------------------------------------------------------------------------------------

@dataclass
class Section:
    key: str
    title: str
    pdf: bytes
    pages: int = 0
    document: Document | None = None
    start: int = 0  # first page in the merged file (1-based)
    reader: PdfReader | None = None

    def __post_init__(self):
        self.reader = PdfReader(io.BytesIO(self.pdf))  # parsed once: counted here, merged later
        self.pages = len(self.reader.pages)


@dataclass
class CaseFile:
    case: Case
    documents: list[Document]
    blobs: dict[str, bytes]
    evidence: list[dict]
    audit: dict
    exported_at: datetime
    exported_by: str
    sections: list[Section] = field(default_factory=list)


def collect(session: Session, case: Case, exported_by: str) -> CaseFile:
    docs = documents_of(session, case.id)
    return CaseFile(case=case, documents=docs, blobs={d.id: _blob(d) for d in docs},
                    evidence=evidence_list(session, case, docs), audit=audit_trail(session, case.id),
                    exported_at=utcnow(), exported_by=exported_by)


def _split_hash(h: str | None) -> str:
    return "\n".join(h[i:i + 16] for i in range(0, len(h), 16)) if h else "—（见备注）"


def _doc_title(d: Document) -> str:
    return f"{d.title}{'（已作废）' if d.status != 'issued' else ''}"


def _cover(cf: CaseFile, session_details: CaseDetails | None) -> bytes:
    c = cf.case
    rows = [["案件编号", c.number], ["当事人", c.institution_name], ["案由", f"{c.violation_type}（{c.legal_basis}）"],
            ["立案日期", session_details.opened_on.isoformat() if session_details and session_details.opened_on else "—"],
            ["决定日期", session_details.decided_on.isoformat() if session_details and session_details.decided_on else "—"],
            ["当前状态", c.state], ["文书数量", f"{len(cf.documents)} 件"],
            ["审计链", f"{len(cf.audit['entries'])} 条，{'完整' if cf.audit['ok'] else '异常'}"],
            ["审计链头", _split_hash(cf.audit["head"])],
            ["导出时间", cf.exported_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")],
            ["导出人", cf.exported_by]]
    return render_pdf(PdfSpec(title="行政处罚案卷", issuer="", paragraphs=[f"{c.region} 医疗保障行政执法案卷（一案一卷）"],
                              table=rows, col_widths_mm=[35, 121], seal=False))


def _toc(cf: CaseFile, sections: list[Section]) -> bytes:
    rows = [["序号", "文书/材料", "文号", "页码"]]
    for i, s in enumerate(sections, start=1):
        number = s.document.number or "—" if s.document is not None else "—"
        rows.append([str(i), s.title, number, str(s.start)])
    return render_pdf(PdfSpec(title="卷内目录", paragraphs=[f"案件编号：{cf.case.number}"], table=rows,
                              table_header=True, col_widths_mm=[14, 78, 46, 18], seal=False))


def _evidence_pdf(cf: CaseFile) -> bytes:
    rows = [["序号", "证据/材料", "SHA-256", "保存于"]]
    for i, e in enumerate(cf.evidence, start=1):
        rows.append([str(i), f"{e['label']}\n{e.get('note') or ''}".strip(), _split_hash(e.get("sha256")),
                     {"inspection": "稽核服务", "cases": "案件服务"}.get(e["held_by"], e["held_by"])])
    return render_pdf(PdfSpec(title="证据清单", paragraphs=[f"案件编号：{cf.case.number}"], table=rows,
                              table_header=True, col_widths_mm=[12, 58, 66, 20], seal=False))


def _audit_pdf(cf: CaseFile) -> bytes:
    rows = [["序号", "时间（UTC）", "操作人", "操作", "状态", "哈希"]]
    for e in cf.audit["entries"]:
        rows.append([str(e["seq"]), e["at"][:19].replace("T", " "), f"{e['actor']}\n{e['actor_role']}", e["action"],
                     f"{e['from_state'] or '—'} → {e['to_state']}", _split_hash(e["hash"])])
    chain = "审计链校验：完整" if cf.audit["ok"] else \
        f"审计链校验：异常，第 {cf.audit['first_broken_seq']} 条（{cf.audit['problem']}）"
    return render_pdf(PdfSpec(title="审计记录", paragraphs=[f"案件编号：{cf.case.number}", chain], table=rows,
                              table_header=True, col_widths_mm=[10, 24, 26, 28, 26, 42], seal=False))


def render(session: Session, cf: CaseFile) -> bytes:
    """The whole file as one PDF: cover, table of contents, documents (unchanged), evidence, audit."""
    details = session.get(CaseDetails, cf.case.id)
    body = [Section(f"doc-{d.id}", _doc_title(d), cf.blobs[d.id], document=d) for d in cf.documents]
    body += [Section("evidence", SECTION_LABELS["evidence"], _evidence_pdf(cf)),
             Section("audit", SECTION_LABELS["audit"], _audit_pdf(cf))]
    cover = Section("cover", SECTION_LABELS["cover"], _cover(cf, details))
    toc_pages = 1 + len(body) // TOC_ROWS_PER_PAGE  # a first guess; corrected below if wrong
    for _ in range(4):  # page numbers depend on the TOC's own length: settle it
        page = 1 + cover.pages + toc_pages
        for s in body:
            s.start, page = page, page + s.pages
        toc = Section("toc", SECTION_LABELS["toc"], _toc(cf, body))
        if toc.pages == toc_pages:
            break
        toc_pages = toc.pages
    cover.start, toc.start = 1, 1 + cover.pages
    cf.sections = [cover, toc, *body]
    writer = PdfWriter()
    for s in cf.sections:
        writer.append(s.reader, outline_item=s.title if s.key not in ("cover",) else None)
    writer.add_metadata({"/Title": f"{cf.case.number} 案卷", "/Producer": "fundguard"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---- the ZIP and its manifest ---------------------------------------------------------------------------

def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode("utf-8")


def build_zip(session: Session, cf: CaseFile, pdf: bytes | None = None) -> bytes:
    pdf = pdf if pdf is not None else render(session, cf)
    c = cf.case
    files: list[tuple[str, bytes, dict]] = [("case-file.pdf", pdf, {"kind": "case_file_pdf"})]
    for i, d in enumerate(cf.documents, start=1):
        files.append((f"documents/{i:02d}-{d.doc_type}.pdf", cf.blobs[d.id],
                      {"kind": "document", "document_id": d.id, "title": d.title, "number": d.number,
                       "status": d.status, "stored_sha256": d.sha256}))
    files.append(("evidence.json", _json(cf.evidence), {"kind": "evidence_list"}))
    files.append(("audit.json", _json(cf.audit), {"kind": "audit_trail"}))
    files.append(("case.json", _json({"id": c.id, "number": c.number, "state": c.state,
                                      "institution_id": c.institution_id, "institution_name": c.institution_name,
                                      "party_type": c.party_type, "region": c.region, "department": c.department,
                                      "violation_type": c.violation_type, "legal_basis": c.legal_basis,
                                      "amount": str(c.amount), "summary": c.summary}), {"kind": "case"}))
    manifest = {"format": FORMAT, "case_id": c.id, "case_number": c.number,
                "exported_at": cf.exported_at.isoformat(), "exported_by": cf.exported_by,
                "audit_chain": {"head": cf.audit["head"], "entries": len(cf.audit["entries"]), "ok": cf.audit["ok"]},
                "files": [{"path": path, "sha256": sha256(data), "size": len(data), **meta}
                          for path, data, meta in files]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data, _ in files:  # PDFs are compressed already: stored as they are
            zf.writestr(path, data, zipfile.ZIP_STORED if path.endswith(".pdf") else zipfile.ZIP_DEFLATED)
        zf.writestr(MANIFEST, _json(manifest))
    return buf.getvalue()


def record_export(session: Session, cf: CaseFile, fmt: str, data: bytes) -> CaseFileExport:
    row = CaseFileExport(case_id=cf.case.id, format=fmt, sha256=sha256(data), size=len(data),
                         files=len(cf.documents), audit_head=cf.audit["head"], exported_at=cf.exported_at,
                         exported_by=cf.exported_by)
    session.add(row)
    return row


# ---- verification ------------------------------------------------------------------------------------------

def _chain_problems(trail: dict, case_id: str, head: str) -> list[dict]:
    prev, problems = audit.GENESIS, []
    for expected, e in enumerate(trail.get("entries", []), start=1):
        try:
            at = datetime.fromisoformat(e["at"])
            recomputed = audit.entry_hash(e["prev_hash"], case_id, e["seq"], at, e["actor"],
                                          e["actor_role"], e["action"], e["from_state"], e["to_state"],
                                          e["reason"], e["request_id"])
        except (KeyError, TypeError, ValueError):
            return [{"path": "audit.json", "problem": "unreadable", "seq": expected}]
        if e["seq"] != expected:
            return [{"path": "audit.json", "problem": "audit entry missing", "seq": expected}]
        if e["prev_hash"] != prev:
            return [{"path": "audit.json", "problem": "audit chain link broken", "seq": e["seq"]}]
        if recomputed != e["hash"]:
            return [{"path": "audit.json", "problem": "audit entry altered", "seq": e["seq"]}]
        prev = e["hash"]
    if prev != head:
        problems.append({"path": "audit.json", "problem": "audit chain head differs from the manifest",
                         "expected": head, "actual": prev})
    return problems


def verify_zip(data: bytes) -> list[dict]:
    """Every problem of an exported case file (empty list = intact)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return [{"path": "(zip)", "problem": "not a ZIP archive"}]
    with zf:
        names = set(zf.namelist())
        if MANIFEST not in names:
            return [{"path": MANIFEST, "problem": "missing"}]
        try:
            manifest = json.loads(zf.read(MANIFEST))
            listed = {f["path"]: f for f in manifest["files"]}
            head = manifest["audit_chain"]["head"]
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError, zlib.error, EOFError):
            return [{"path": MANIFEST, "problem": "unreadable"}]
        problems = []
        for path, entry in listed.items():
            if path not in names:
                problems.append({"path": path, "problem": "missing"})
                continue
            try:
                content = zf.read(path)
            except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:  # CRC/inflate error: bytes changed
                problems.append({"path": path, "problem": f"unreadable ({exc})"})
                continue
            actual = sha256(content)
            if actual != entry.get("sha256"):
                problems.append({"path": path, "problem": "sha256 mismatch", "expected": entry.get("sha256"),
                                 "actual": actual})
            elif entry.get("stored_sha256") and entry["stored_sha256"] != actual:
                problems.append({"path": path, "problem": "differs from the issued document",
                                 "expected": entry["stored_sha256"], "actual": actual})
        for path in sorted(names - set(listed) - {MANIFEST}):
            problems.append({"path": path, "problem": "not listed in the manifest"})
        if "audit.json" in listed and "audit.json" in names and not any(p["path"] == "audit.json" for p in problems):
            try:
                problems += _chain_problems(json.loads(zf.read("audit.json")), manifest["case_id"], head)
            except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError, zlib.error, EOFError):
                problems.append({"path": "audit.json", "problem": "unreadable"})
        return problems


def check_registry(session: Session, data: bytes) -> list[dict]:
    """Against the cases database: was this exact ZIP exported (``case_file_exports``), and is the
    audit head in its manifest still an entry of the case's chain? A forger who rewrote every file
    and re-hashed the whole chain (the chain has no secret) is caught here."""
    digest = sha256(data)
    problems = []
    if session.execute(select(CaseFileExport.id).where(CaseFileExport.sha256 == digest,
                                                       CaseFileExport.format == "zip")).first() is None:
        problems.append({"path": "(zip)", "problem": "not a registered export", "sha256": digest})
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read(MANIFEST))
        case_id, head = manifest["case_id"], manifest["audit_chain"]["head"]
        entries = manifest["audit_chain"]["entries"]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, zlib.error, EOFError):
        return problems + [{"path": MANIFEST, "problem": "unreadable"}]
    if entries:
        stored = session.execute(select(AuditEntry.hash).where(AuditEntry.case_id == case_id,
                                                               AuditEntry.seq == entries)).scalar_one_or_none()
        if stored != head:
            problems.append({"path": "audit.json", "problem": "audit head not in the case's chain",
                             "expected": stored, "actual": head})
    return problems
