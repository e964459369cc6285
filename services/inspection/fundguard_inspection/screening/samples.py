"""Small hand-made settlement files (tests, demos, API examples).

``row(**overrides)`` gives one valid charge line (a 床位费 line of an inpatient stay) with any
field overridden; ``amount`` defaults to quantity x unit_price. ``write_claims_csv`` writes rows
in the import format; row k of the list lands on physical line k + 1 (the header is line 1)
unless blank lines are inserted.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from .claims import COLUMN_NAMES

__all__ = ["BASE_ROW", "row", "write_claims_csv"]

BASE_ROW: dict[str, Any] = {
    "claim_id": "C1",
    "institution_code": "H001",
    "patient_id_hash": "P1",
    "gender": "M",
    "age": 40,
    "admit_date": "2025-03-01",
    "discharge_date": "2025-03-05",
    "service_date": "2025-03-01",
    "visit_type": "inpatient",
    "diagnosis_code": "J18.9",
    "item_code": "110200001",
    "item_name": "床位费",
    "item_category": "service",
    "drug_class": "",
    "quantity": 1,
    "unit_price": "50.00",
    "amount": None,
    "department": "内科",
    "doctor_id": "D1",
    "drg_group": "",
    "drg_weight": "",
    "presence_hours": 12,
    "record_edits": 0,
    "record_edit_reasoned": "",
    "stock_out_quantity": "",
    "ddd": "",
    "bed_days": 4,
    "is_emergency": "false",
}


def row(**overrides: Any) -> dict[str, Any]:
    r = dict(BASE_ROW)
    unknown = set(overrides) - set(BASE_ROW)
    if unknown:
        raise KeyError(f"unknown column(s): {', '.join(sorted(unknown))}")
    r.update(overrides)
    if r["amount"] is None:
        try:
            r["amount"] = str((Decimal(str(r["quantity"])) * Decimal(str(r["unit_price"]))).quantize(Decimal("0.01")))
        except ArithmeticError:
            r["amount"] = ""
    return r


def write_claims_csv(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]], *,
                     encoding: str = "utf-8", columns: Sequence[str] = COLUMN_NAMES,
                     bom: bool = False, newline: str = "\n",
                     blank_lines_after: Iterable[int] = ()) -> Path:
    """Write ``rows`` as a settlement CSV. ``blank_lines_after``: 0-based row indexes after
    which an empty line is inserted (to test line numbering)."""
    blanks = set(blank_lines_after)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(columns)
    for i, r in enumerate(rows):
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
        if i in blanks:
            buf.write(newline)
    data = buf.getvalue().encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    out = Path(path)
    out.write_bytes(data)
    return out
