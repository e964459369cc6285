"""A4 PDF after GB/T 9704 (党政机关公文格式): issuer, 文号 and red rule, title, addressee, body,
optional table, authority and date with the seal area, page numbers "— n —".

ReportLab (pure-Python wheel) embeds a subset of the TrueType/TTC CJK font given by
``CASES_PDF_FONT`` (default Debian's fonts-wqy-microhei). The seal is the image at
``CASES_SEAL_IMAGE`` when configured (a placeholder for a real 电子签章 service), otherwise a
dashed red circle marking where it goes. Output is deterministic (ReportLab's invariant mode).
"""
from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table,
                                TableStyle)

DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FONT_NAME = "FundguardCJK"
RED = colors.HexColor("#C8102E")


class FontUnavailable(RuntimeError):
    """The configured CJK font file is missing or unreadable (documents answer 503)."""


class RenderError(ValueError):
    """The spec cannot be laid out (e.g. text the renderer refuses)."""


@dataclass
class PdfSpec:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    issuer: str = ""                # 发文机关标志 (top, red)
    number: str | None = None       # 文号
    addressee: str | None = None    # 主送机关 / 当事人
    authority: str = ""             # 落款 (signature)
    date: str = ""                  # 成文日期, e.g. 2026年3月2日
    table: list[list[str]] = field(default_factory=list)  # rows (first row bold when table_header)
    table_header: bool = False
    col_widths_mm: list[float] | None = None
    seal: bool = True
    footer_note: str = ""           # a line under the signature (e.g. 抄送 / 附注)


def font_path() -> str:
    return os.environ.get("CASES_PDF_FONT", "").strip() or DEFAULT_FONT


_registered: dict[str, str] = {}
_lock = threading.Lock()


def _font() -> str:
    path = font_path()
    with _lock:
        if _registered.get(FONT_NAME) == path:
            return FONT_NAME
        if not os.path.isfile(path):
            raise FontUnavailable(path)
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
        except Exception as exc:  # a broken or unsupported font file
            raise FontUnavailable(f"{path}: {exc}") from exc
        _registered[FONT_NAME] = path
    return FONT_NAME


def font_available() -> bool:
    try:
        _font()
        return True
    except FontUnavailable:
        return False


def seal_image() -> str | None:
    path = os.environ.get("CASES_SEAL_IMAGE", "").strip()
    return path if path and os.path.isfile(path) else None


# ---- layout (GB/T 9704: 版心 156 × 225 mm; top 37, left 28 mm) ------------------------------------

LEFT, RIGHT, TOP, BOTTOM = 28 * mm, 26 * mm, 37 * mm, 35 * mm
BODY_PT, LEADING = 16, 28.9  # 三号字, 22 lines a page


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = dict(fontName=font, wordWrap="CJK")
    return {
        "issuer": ParagraphStyle("issuer", fontSize=26, leading=34, alignment=TA_CENTER, textColor=RED, **base),
        "number": ParagraphStyle("number", fontSize=BODY_PT, leading=LEADING, alignment=TA_CENTER, **base),
        "title": ParagraphStyle("title", fontSize=22, leading=34, alignment=TA_CENTER, spaceBefore=10,
                                spaceAfter=14, **base),
        "addressee": ParagraphStyle("addressee", fontSize=BODY_PT, leading=LEADING, alignment=TA_LEFT, **base),
        "body": ParagraphStyle("body", fontSize=BODY_PT, leading=LEADING, alignment=TA_JUSTIFY,
                               firstLineIndent=2 * BODY_PT, **base),
        "cell": ParagraphStyle("cell", fontSize=12, leading=17, alignment=TA_LEFT, **base),
        "cellh": ParagraphStyle("cellh", fontSize=12, leading=17, alignment=TA_CENTER, **base),
        "sign": ParagraphStyle("sign", fontSize=BODY_PT, leading=LEADING, alignment=TA_RIGHT, **base),
        "note": ParagraphStyle("note", fontSize=12, leading=18, alignment=TA_LEFT, **base),
    }


class _RedRule(Flowable):
    def __init__(self, width):
        super().__init__()
        self.width, self.height = width, 6

    def draw(self):
        self.canv.setStrokeColor(RED)
        self.canv.setLineWidth(1.2)
        self.canv.line(0, 3, self.width, 3)


class _Signature(Flowable):
    """Authority and date right-aligned (four characters from the right edge), the seal area
    pressed over both, centred on the authority line."""

    def __init__(self, width, authority, date, font, seal):
        super().__init__()
        self.width, self.height = width, 3 * LEADING + 10
        self.authority, self.date, self.font, self.seal = authority, date, font, seal

    def draw(self):
        c = self.canv
        c.setFont(self.font, BODY_PT)
        right = self.width - 4 * BODY_PT
        y_auth = self.height - LEADING - 10
        y_date = y_auth - LEADING
        w_auth = pdfmetrics.stringWidth(self.authority, self.font, BODY_PT)
        w_date = pdfmetrics.stringWidth(self.date, self.font, BODY_PT)
        c.drawString(right - w_auth, y_auth, self.authority)
        c.drawString(right - w_date, y_date, self.date)
        if not self.seal:
            return
        cx = right - max(w_auth, w_date) / 2
        cy = (y_auth + y_date) / 2 + 6
        r = 21 * mm
        image = seal_image()
        if image:
            c.drawImage(image, cx - r, cy - r, 2 * r, 2 * r, mask="auto", preserveAspectRatio=True)
            return
        c.saveState()
        c.setStrokeColor(RED)
        c.setFillColor(RED)
        c.setDash(4, 3)
        c.circle(cx, cy, r, stroke=1, fill=0)
        c.setFont(self.font, 9)
        label = "（电子签章位置）"
        c.drawCentredString(cx, cy - r + 8, label)
        c.restoreState()


def _page_number(font):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 14)
        text = f"— {doc.page} —"
        x = A4[0] - RIGHT - 14 if doc.page % 2 else LEFT + 14
        align = canvas.drawRightString if doc.page % 2 else canvas.drawString
        align(x, BOTTOM - 7 * mm - 14, text)
        canvas.restoreState()
    return draw


def _p(text: str, style) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def render_pdf(spec: PdfSpec) -> bytes:
    """The document as PDF bytes. Raises ``FontUnavailable`` (no CJK font) or ``RenderError``."""
    font = _font()
    st = _styles(font)
    width = A4[0] - LEFT - RIGHT
    story: list = []
    if spec.issuer:
        story.append(_p(spec.issuer, st["issuer"]))
        story.append(Spacer(1, 8))
    if spec.number:
        story.append(_p(spec.number, st["number"]))
    if spec.issuer or spec.number:
        story.append(_RedRule(width))
    story.append(_p(spec.title, st["title"]))
    if spec.addressee:
        story.append(_p(spec.addressee, st["addressee"]))
    for para in spec.paragraphs:
        story.append(_p(para, st["body"]))
    if spec.table:
        rows = [[_p(cell, st["cellh"] if spec.table_header and i == 0 else st["cell"]) for cell in row]
                for i, row in enumerate(spec.table)]
        ncols = max(len(r) for r in rows)
        rows = [r + [""] * (ncols - len(r)) for r in rows]
        widths = ([w * mm for w in spec.col_widths_mm] if spec.col_widths_mm
                  else [width / ncols] * ncols)
        table = Table(rows, colWidths=widths, repeatRows=1 if spec.table_header else 0)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                   ("TOPPADDING", (0, 0), (-1, -1), 4),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
        story.append(Spacer(1, 8))
        story.append(table)
    if spec.authority or spec.date:
        story.append(Spacer(1, LEADING))
        story.append(KeepTogether([_Signature(width, spec.authority, spec.date, font, spec.seal)]))
    if spec.footer_note:
        story.append(Spacer(1, 8))
        story.append(_p(spec.footer_note, st["note"]))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=LEFT, rightMargin=RIGHT, topMargin=TOP,
                            bottomMargin=BOTTOM, title=spec.title, author=spec.authority or spec.issuer,
                            creator="fundguard", invariant=1, initialFontName=font)
    page = _page_number(font)
    try:
        doc.build(story, onFirstPage=page, onLaterPages=page)
    except FontUnavailable:
        raise
    except Exception as exc:  # ReportLab's LayoutError and friends
        raise RenderError(str(exc)) from exc
    return buf.getvalue()
