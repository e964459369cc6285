"""Settlement-record (结算明细) import: validation per row, encodings, idempotency, file errors."""
from __future__ import annotations

import datetime

import duckdb
import pytest

from fundguard_inspection.screening import (COLUMN_NAMES, ClaimsImportError, connect, import_claims,
                                            load_institution_levels)
from fundguard_inspection.screening.samples import row, write_claims_csv


@pytest.fixture()
def conn():
    c = connect(memory_limit="256MB", threads=1)
    yield c
    c.close()


def _rejects(conn, import_id):
    return conn.execute("SELECT line, code, field FROM claim_rejects WHERE import_id = ? "
                        "ORDER BY line, code, field", [import_id]).fetchall()


def test_claims_import_bad_rows_reported_with_line_numbers_good_rows_load(tmp_path, conn):
    rows = [
        row(claim_id="C1"),                                   # line 2 good
        row(claim_id="C2", quantity="abc", amount="1.00"),    # line 3 bad number
        row(claim_id="C3"),                                   # line 4 good
        row(claim_id="", patient_id_hash=""),                 # line 5 two required fields empty
        row(claim_id="C5", admit_date="2025-02-30"),          # line 6 impossible date
        row(claim_id="C6", item_category="pill"),             # line 7 unknown category
        row(claim_id="C7", discharge_date="2025-02-01"),      # line 8 discharge before admission
        row(claim_id="C8", amount="999.00"),                  # line 9 amount != qty x price
        row(claim_id="C9", presence_hours=25),                # line 10 out of range
        row(claim_id="C10", is_emergency="maybe"),            # line 11 bad yes/no
        row(claim_id="C11", gender="男", item_category="服务"),  # line 12 good (Chinese aliases)
    ]
    path = write_claims_csv(tmp_path / "claims.csv", rows)
    rep = import_claims(path, conn)

    assert rep.status == "loaded"
    assert rep.rows_read == 11
    assert rep.rows_loaded == 3
    assert rep.rows_rejected == 8
    assert rep.rows_read == rep.rows_loaded + rep.rows_rejected
    got = {(e.line, e.code, e.field) for e in rep.errors}
    assert got == {
        (3, "row_number", "quantity"),
        (5, "row_required", "claim_id"), (5, "row_required", "patient_id_hash"),
        (6, "row_date", "admit_date"),
        (7, "row_enum", "item_category"),
        (8, "row_date_order", "discharge_date"),
        (9, "row_amount_mismatch", "amount"),
        (10, "row_range", "presence_hours"),
        (11, "row_bool", "is_emergency"),
    }
    # the same errors are stored, and every message is bilingual and names the line
    assert len(_rejects(conn, rep.import_id)) == len(got)
    err = next(e for e in rep.errors if e.line == 3)
    assert err.zh.startswith("第3行") and "quantity" in err.zh and "abc" in err.zh
    assert err.en.startswith("line 3:") and "not a valid number" in err.en
    loaded = conn.execute("SELECT claim_id, src_line, gender, item_category FROM claims "
                          "ORDER BY src_line").fetchall()
    assert loaded == [("C1", 2, "M", "service"), ("C3", 4, "M", "service"), ("C11", 12, "M", "service")]
    assert rep.error_counts["row_required"] == 2


def test_claims_import_wrong_field_count_and_unbalanced_quote_rejected_alone(tmp_path, conn):
    path = tmp_path / "claims.csv"
    write_claims_csv(path, [row(claim_id="C1"), row(claim_id="C2", item_name="头孢, 注射剂")])
    text = path.read_text(encoding="utf-8")
    good = text.splitlines()[1]
    lines = [text.splitlines()[0], good, "C3,H001,too,few", good.replace("C1", "C4").replace("床位费", 'bad"name'),
             good.replace("C1", "C5"), good.replace("C1", "C6") + ",extra", text.splitlines()[2]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    rep = import_claims(path, conn)
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (6, 3, 3)
    assert {(e.line, e.code) for e in rep.errors} == {
        (3, "row_column_count"), (4, "row_quote"), (6, "row_column_count")}
    loaded = dict(conn.execute("SELECT claim_id, item_name FROM claims").fetchall())
    assert loaded == {"C1": "床位费", "C5": "床位费", "C2": "头孢, 注射剂"}  # quoted comma is fine


def test_claims_import_blank_lines_skipped_and_line_numbers_stay_physical(tmp_path, conn):
    path = write_claims_csv(tmp_path / "claims.csv",
                            [row(claim_id="C1"), row(claim_id="C2"), row(claim_id="C3", age="x")],
                            blank_lines_after=[0, 1], newline="\r\n")
    rep = import_claims(path, conn)
    assert rep.blank_lines == 2
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (3, 2, 1)
    assert [(e.line, e.code) for e in rep.errors] == [(6, "row_integer")]
    assert conn.execute("SELECT claim_id, src_line FROM claims ORDER BY src_line").fetchall() == [
        ("C1", 2), ("C2", 4)]


def test_claims_import_gbk_file_accepted(tmp_path, conn):
    rows = [row(claim_id="C1", department="呼吸内科", item_name="头孢曲松钠注射液", diagnosis_code="J18.9"),
            row(claim_id="C2", department="心血管内科", item_name="一般诊疗费")]
    path = write_claims_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    rep = import_claims(path, conn)
    assert rep.encoding == "gbk"
    assert (rep.rows_loaded, rep.rows_rejected) == (2, 0)
    assert conn.execute("SELECT department, item_name FROM claims ORDER BY claim_id").fetchall() == [
        ("呼吸内科", "头孢曲松钠注射液"), ("心血管内科", "一般诊疗费")]


def test_claims_import_gbk_explicit_encoding_and_utf8_bom(tmp_path, conn):
    p1 = write_claims_csv(tmp_path / "a.csv", [row(claim_id="C1", department="外科")], encoding="gbk")
    assert import_claims(p1, conn, encoding="GBK").encoding == "gbk"
    p2 = write_claims_csv(tmp_path / "b.csv", [row(claim_id="C2", department="儿科")], bom=True)
    rep = import_claims(p2, conn)
    assert rep.encoding == "utf-8-sig" and rep.rows_loaded == 1
    assert conn.execute("SELECT department FROM claims ORDER BY claim_id").fetchall() == [("外科",), ("儿科",)]


def test_claims_import_corrupt_bytes_in_utf8_file_reject_only_that_line(tmp_path, conn):
    path = write_claims_csv(tmp_path / "c.csv", [row(claim_id="C1", department="内科"),
                                                 row(claim_id="C2", department="外科"),
                                                 row(claim_id="C3", department="儿科")])
    data = path.read_bytes().replace("外科".encode(), b"\xff\xfe")
    path.write_bytes(data)
    rep = import_claims(path, conn)
    assert rep.encoding == "utf-8"
    assert (rep.rows_loaded, rep.rows_rejected) == (2, 1)
    assert [(e.line, e.code) for e in rep.errors] == [(3, "row_encoding")]


def test_claims_import_unknown_institution_rejected_per_row(tmp_path, conn):
    path = write_claims_csv(tmp_path / "c.csv", [row(claim_id="C1", institution_code="H001"),
                                                 row(claim_id="C2", institution_code="H999"),
                                                 row(claim_id="C3", institution_code="H002")])
    rep = import_claims(path, conn, known_institutions={"H001": "二级及以上", "H002": "基层"})
    assert (rep.rows_loaded, rep.rows_rejected) == (2, 1)
    assert [(e.line, e.code, e.field, e.value) for e in rep.errors] == [
        (3, "row_unknown_institution", "institution_code", "H999")]
    assert load_institution_levels(conn) == {"H001": "二级及以上", "H002": "基层"}


def test_claims_import_idempotent_reimport(tmp_path, conn):
    path = write_claims_csv(tmp_path / "c.csv", [row(claim_id="C1"), row(claim_id="C2", age="x")])
    first = import_claims(path, conn)
    second = import_claims(path, conn)
    assert first.status == "loaded" and first.rows_loaded == 1
    assert second.status == "duplicate"
    assert (second.rows_read, second.rows_loaded, second.rows_rejected) == (0, 0, 0)
    assert second.import_id == first.import_id and second.file_sha256 == first.file_sha256
    assert "未新增" in second.message_zh and "nothing new" in second.message_en
    assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM claim_rejects").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM claim_imports").fetchone()[0] == 1
    # a copy under another name is the same file
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    assert import_claims(copy, conn).status == "duplicate"


def test_claims_import_idempotent_across_connections_to_a_db_file(tmp_path):
    db = tmp_path / "s.duckdb"
    path = write_claims_csv(tmp_path / "c.csv", [row(claim_id="C1")])
    assert import_claims(path, db).status == "loaded"
    assert import_claims(path, db).status == "duplicate"
    with duckdb.connect(str(db)) as c:
        assert c.execute("SELECT count(*) FROM claims").fetchone()[0] == 1


def test_claims_import_missing_column_rejected_with_code(tmp_path, conn):
    cols = [c for c in COLUMN_NAMES if c not in ("amount", "item_code")]
    path = write_claims_csv(tmp_path / "c.csv", [row()], columns=cols)
    with pytest.raises(ClaimsImportError) as exc:
        import_claims(path, conn)
    assert exc.value.code == "claims_missing_columns"
    assert exc.value.details["missing"] == ["item_code", "amount"]
    assert "amount" in exc.value.zh and "amount" in exc.value.en
    assert conn.execute("SELECT count(*) FROM claim_imports").fetchone()[0] == 0


def test_claims_import_optional_columns_may_be_absent_and_header_case_insensitive(tmp_path, conn):
    required = ["claim_id", "institution_code", "patient_id_hash", "admit_date", "item_code",
                "item_category", "quantity", "unit_price", "amount"]
    path = tmp_path / "c.csv"
    path.write_text(",".join(c.upper() for c in required) + ",note\n"
                    "C1,H001,P1,2025-03-01,111000001,service,1,10,10.00,hello\n", encoding="utf-8")
    rep = import_claims(path, conn)
    assert rep.rows_loaded == 1 and rep.ignored_columns == ["note"]
    assert conn.execute("SELECT visit_type, service_date, gender, record_edits FROM claims").fetchone() == (
        "outpatient", datetime.date(2025, 3, 1), "U", 0)


@pytest.mark.parametrize("content, code", [
    (b"", "claims_empty_file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "claims_not_csv"),
    (b"just some text without separators\nsecond line\n", "claims_not_csv"),
    (b"claim_id,claim_id,institution_code\n", "claims_duplicate_columns"),
    (b"a,b,c\n1,2,3\n", "claims_missing_columns"),
])
def test_claims_import_malformed_file_rejected_with_code(tmp_path, conn, content, code):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ClaimsImportError) as exc:
        import_claims(path, conn)
    assert exc.value.code == code
    assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0


def test_claims_import_file_not_found(tmp_path, conn):
    with pytest.raises(ClaimsImportError) as exc:
        import_claims(tmp_path / "nope.csv", conn)
    assert exc.value.code == "claims_file_not_found"


def test_claims_import_progress_callback_reports_phases(tmp_path, conn):
    path = write_claims_csv(tmp_path / "c.csv", [row(claim_id=f"C{i}") for i in range(50)])
    calls = []
    import_claims(path, conn, progress=lambda phase, done, total: calls.append((phase, done, total)))
    phases = [c[0] for c in calls]
    assert phases[0] == "hash" and phases[-1] == "done"
    assert {"prepare", "load", "validate"} <= set(phases)
    size = path.stat().st_size
    assert ("hash", size, size) in calls and ("prepare", size, size) in calls
    assert calls[-1] == ("done", 50, 50)


def test_claims_import_parquet(tmp_path, conn):
    csv_path = write_claims_csv(tmp_path / "c.csv", [row(claim_id="C1"), row(claim_id="C2", quantity=-1)])
    pq = tmp_path / "c.parquet"
    with duckdb.connect() as c:
        c.execute(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar = true)) TO '{pq}' (FORMAT parquet)")
    rep = import_claims(pq, conn)
    assert rep.file_format == "parquet"
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (2, 1, 1)
    assert [(e.line, e.code, e.field) for e in rep.errors] == [
        (2, "row_range", "amount"), (2, "row_range", "quantity")]  # row 2 of the file


def test_claims_import_streams_with_many_chunks(tmp_path, conn, monkeypatch):
    # force tiny chunks so the line-carry logic across chunk borders is exercised
    from fundguard_inspection.screening import claims as claims_mod

    monkeypatch.setattr(claims_mod, "_CHUNK", 97)
    rows = [row(claim_id=f"C{i}", department="内科" if i % 2 else "外科") for i in range(40)]
    rows[17] = row(claim_id="C17", age="bad")
    path = write_claims_csv(tmp_path / "c.csv", rows, encoding="gbk", blank_lines_after=[5])
    rep = import_claims(path, conn)
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (40, 39, 1)
    assert [(e.line, e.code) for e in rep.errors] == [(20, "row_integer")]  # 17 + header + blank + 1
    assert conn.execute("SELECT src_line FROM claims WHERE claim_id = 'C39'").fetchone()[0] == 42
    assert conn.execute("SELECT count(*) FROM claims WHERE department = '外科'").fetchone()[0] == 20
