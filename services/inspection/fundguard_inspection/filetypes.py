"""What an uploaded file really is, judged by its content (magic bytes), never by its name.

Accepted: PDF, JPEG, PNG, DOCX, XLSX (Office Open XML zips) and plain text (UTF-8, or GB18030
which covers GBK). Anything else is ``unsupported_file_type`` (HTTP 415); a file that starts like
an accepted type but is broken (a truncated PDF or PNG, a zip that does not open) is
``malformed_file`` (HTTP 422).
"""
from __future__ import annotations

import zipfile
from typing import BinaryIO

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT = "text/plain"
ACCEPTED = (PDF, JPEG, PNG, DOCX, XLSX, TEXT)
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png", DOCX: "docx", XLSX: "xlsx", TEXT: "txt"}

_TEXT_SAMPLE = 64 * 1024


class FileTypeError(ValueError):
    def __init__(self, status: int, code: str, zh: str, en: str):
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en


def _unsupported(detail: str) -> FileTypeError:
    return FileTypeError(415, "unsupported_file_type",
                         "不支持的文件类型（仅限 PDF、JPEG、PNG、DOCX、XLSX、纯文本），按文件内容判断",
                         f"unsupported file type ({detail}); accepted by content: PDF, JPEG, PNG, "
                         "DOCX, XLSX, plain text")


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


def detect(f: BinaryIO, size: int) -> str:
    """The media type of the seekable binary file ``f`` of ``size`` bytes, or ``FileTypeError``."""
    if size == 0:
        raise FileTypeError(422, "empty_file", "文件为空", "the file is empty")
    f.seek(0)
    head = f.read(16)
    try:
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
            f.seek(0)
            try:
                with zipfile.ZipFile(f) as z:
                    names = set(z.namelist())
                    if "[Content_Types].xml" not in names:
                        raise _unsupported("zip archive that is not an Office document")
                    if "word/document.xml" in names:
                        kind = DOCX
                    elif "xl/workbook.xml" in names:
                        kind = XLSX
                    else:
                        raise _unsupported("Office archive that is neither DOCX nor XLSX")
                    bad = z.testzip()
                    if bad is not None:
                        raise _malformed("zip", f"member {bad} fails its CRC")
                    return kind
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
                raise _malformed("zip", str(exc)) from None
        f.seek(0)
        sample = f.read(_TEXT_SAMPLE)
        if _looks_like_text(sample, complete=size <= _TEXT_SAMPLE):
            return TEXT
        raise _unsupported("unrecognised binary content")
    finally:
        f.seek(0)
