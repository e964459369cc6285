"""The one content-based file-type detector: each service names what it accepts."""
from __future__ import annotations

import io
import zipfile

import pytest

from fundguard_shared import filetypes as ft

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def detect(data: bytes, accepted):
    return ft.detect(io.BytesIO(data), len(data), accepted)


def test_a_known_type_the_caller_does_not_accept_is_415_naming_what_is_accepted():
    with pytest.raises(ft.FileTypeError) as exc:
        detect("现场笔录\n".encode(), (ft.PDF, ft.PNG))
    assert (exc.value.status, exc.value.code) == (415, "unsupported_file_type")
    assert "PDF、PNG" in exc.value.zh and "PDF, PNG" in exc.value.en
    assert detect("现场笔录\n".encode(), (ft.PDF, ft.TEXT)) == ft.TEXT


def test_ofd_is_recognised_by_its_ofd_xml():
    assert detect(_zip({"OFD.xml": b"<ofd:OFD/>", "Doc_0/Document.xml": b"<x/>"}), (ft.OFD,)) == ft.OFD


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    bomb = _zip({"word/document.xml": b"0" * (ft.ZIP_MAX_RATIO * 2000), "[Content_Types].xml": b"<x/>"})
    with pytest.raises(ft.FileTypeError) as exc:
        detect(bomb, (ft.DOCX,))
    assert (exc.value.status, exc.value.code) == (422, "malformed_file") and "zip bomb" in exc.value.en


def test_the_stream_is_rewound_after_detection():
    f = io.BytesIO(PDF)
    assert ft.detect(f, len(PDF), (ft.PDF,)) == ft.PDF and f.tell() == 0
