"""What an uploaded file really is, judged by its content (magic bytes), never by its name — one
detector for every service that takes uploads (inspection evidence, cases attachments).

Known: PDF, JPEG, PNG, OFD (the national electronic-document format: a zip with ``OFD.xml``),
DOCX and XLSX (Office Open XML zips) and plain text (UTF-8, or GB18030 which covers GBK). A caller
names the types it accepts; anything else is ``unsupported_file_type`` (HTTP 415); a file that
starts like a known type but is broken (a truncated PDF or PNG, a zip that does not open, fails its
CRC, is encrypted or inflates like a zip bomb) is ``malformed_file`` (HTTP 422); an empty one
``empty_file`` (422).
"""
from __future__ import annotations

import zipfile
from typing import BinaryIO, Iterable

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
OFD = "application/ofd"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT = "text/plain"
LABELS = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG", OFD: "OFD", DOCX: "DOCX", XLSX: "XLSX", TEXT: "纯文本"}
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png", OFD: "ofd", DOCX: "docx", XLSX: "xlsx", TEXT: "txt"}

ZIP_MAX_MEMBERS = 5000
ZIP_MAX_INFLATED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200
_TEXT_SAMPLE = 64 * 1024


class FileTypeError(ValueError):
    def __init__(self, status: int, code: str, zh: str, en: str):
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en


def _unsupported(detail: str, accepted: Iterable[str]) -> FileTypeError:
    names = [LABELS[t] for t in accepted]
    return FileTypeError(415, "unsupported_file_type",
                         f"不支持的文件类型（仅限 {'、'.join(names)}），按文件内容判断",
                         f"unsupported file type ({detail}); accepted by content: "
                         + ", ".join("plain text" if n == "纯文本" else n for n in names))


def _malformed(kind: str, detail: str) -> FileTypeError:
    return FileTypeError(422, "malformed_file", f"文件内容不完整或已损坏（{kind}）",
                         f"the {kind} file is truncated or corrupt: {detail}")


def _tail(f: BinaryIO, size: int, n: int = 1024) -> bytes:
    f.seek(max(0, size - n))
    return f.read(n)


def _looks_like_text(sample: bytes, complete: bool) -> bool:
    if b"\x00" in sample:
        return False
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = sample.decode(enc)
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of a partial sample is fine
            if not complete and enc == "utf-8-sig" and exc.start >= len(sample) - 3:
                text = sample[:exc.start].decode(enc)
            else:
                continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
        return controls <= max(1, len(text) // 1000)
    return False


def _zip_kind(f: BinaryIO, size: int) -> str | None:
    f.seek(0)
    try:
        with zipfile.ZipFile(f) as z:
            infos = z.infolist()
            if len(infos) > ZIP_MAX_MEMBERS:
                raise _malformed("zip", f"more than {ZIP_MAX_MEMBERS} members")
            inflated = sum(i.file_size for i in infos)
            if inflated > ZIP_MAX_INFLATED or inflated > ZIP_MAX_RATIO * max(size, 1):
                raise _malformed("zip", "inflates beyond the allowed size (zip bomb?)")
            if any(i.flag_bits & 0x1 for i in infos):
                raise _malformed("zip", "encrypted members")
            names = {i.filename for i in infos}
            if "OFD.xml" in names:
                kind = OFD
            elif "[Content_Types].xml" in names and "word/document.xml" in names:
                kind = DOCX
            elif "[Content_Types].xml" in names and "xl/workbook.xml" in names:
                kind = XLSX
            else:
                return None
            bad = z.testzip()
            if bad is not None:
                raise _malformed("zip", f"member {bad} fails its CRC")
            return kind
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise _malformed("zip", str(exc)[:200]) from None


def _kind(f: BinaryIO, size: int, accepted: tuple[str, ...]) -> str:
    head = f.read(16)
    if head.startswith(b"%PDF-"):
        if b"%%EOF" not in _tail(f, size):
            raise _malformed("PDF", "no %%EOF marker at the end")
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        if b"\xff\xd9" not in _tail(f, size, 64):
            raise _malformed("JPEG", "no end-of-image marker")
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if b"IEND" not in _tail(f, size, 64):
            raise _malformed("PNG", "no IEND chunk")
        return PNG
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(f, size)
        if kind is None:
            raise _unsupported("zip archive that is neither OFD nor DOCX/XLSX", accepted)
        return kind
    if TEXT in accepted:
        f.seek(0)
        if _looks_like_text(f.read(_TEXT_SAMPLE), complete=size <= _TEXT_SAMPLE):
            return TEXT
    raise _unsupported("unrecognised content", accepted)


def detect(f: BinaryIO, size: int, accepted: Iterable[str]) -> str:
    """The media type of the seekable binary file ``f`` of ``size`` bytes if it is one of
    ``accepted``, else ``FileTypeError``."""
    accepted = tuple(accepted)
    if size == 0:
        raise FileTypeError(422, "empty_file", "文件为空", "the file is empty")
    f.seek(0)
    try:
        kind = _kind(f, size, accepted)
    finally:
        f.seek(0)
    if kind not in accepted:
        raise _unsupported(f"{LABELS[kind]} is not accepted here", accepted)
    return kind
