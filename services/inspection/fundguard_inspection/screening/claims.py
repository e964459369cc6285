"""Settlement-record (结算明细) import into DuckDB.

One CSV row is one charge line of one settlement (一条费用明细). Claim-level facts (patient,
dates, diagnosis, DRG group, presence hours, record edits, bed days, emergency flag) repeat on
every line of the same claim; the screening rules read them from a per-claim header built at run
time.

File format (see ``COLUMNS`` for the full schema):

* UTF-8 (with or without BOM) or GBK/GB18030; ``encoding='auto'`` detects which.
* Comma-separated, header row first, columns matched by name (any order, case-insensitive).
  Every ``required`` column must be present in the header; optional columns may be absent.
  Unknown extra columns are ignored (listed in the report).
* One record per physical line. Fields may be quoted (``"a,b"``, ``""`` for a quote) but a field
  may not contain a line break: a line with an unbalanced quote is rejected on its own, so one
  bad line never swallows the following ones and line numbers stay exact.
* Blank lines are skipped and counted (``blank_lines``); they are not records.
* A Parquet file (recognised by its ``PAR1`` magic) with the same column names is accepted too;
  its "line" is the 1-based row number.

Row validation is vectorised: DuckDB's CSV reader casts the numeric columns (its failures land
in its rejects table, with the column), and one SQL pass checks the rest (required fields, dates,
enumerations, yes/no, ranges, date order, amount = quantity x unit price, known institution).
Each bad row is reported with its physical line number and one entry per problem (stable code +
Chinese and English message); a row whose numbers cannot be read reports those first. Every
good row loads. ``rows_read == rows_loaded + rows_rejected`` always holds, otherwise the import
is rolled back with ``claims_count_mismatch``. The whole import is one transaction.

Idempotency: the SHA-256 of the file bytes is the key of ``claim_imports``. The same file a
second time loads nothing and returns ``status='duplicate'`` with the earlier import.

Memory: the file is streamed (hash pass, then a transcoding pass that writes a UTF-8 copy with a
leading line-number column, 4 MiB at a time); DuckDB reads that copy with its own streaming CSV
reader. Nothing holds the whole file in Python memory.
"""
from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "REQUIRED_COLUMNS",
    "ITEM_CATEGORIES",
    "ROW_ERROR_MESSAGES",
    "ClaimsImportError",
    "RowError",
    "ImportReport",
    "connect",
    "ensure_schema",
    "import_claims",
    "load_institution_levels",
]

ProgressCallback = Callable[[str, int, int], None]

ITEM_CATEGORIES = ("drug", "exam", "service", "consumable", "surgery")
VISIT_TYPES = ("inpatient", "outpatient", "pharmacy")

_CHUNK = 4 << 20  # bytes per read in the streaming passes
_SEP = "\x1e"  # separates error entries inside the staging error string
_FSEP = "\x1f"  # separates code / field / value inside one error entry
_MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | int | dec | date | bool | enum
    sql_type: str
    required: bool
    zh: str
    description: str
    min_value: float | None = None
    max_value: float | None = None


# The settlement-record schema. ``kind`` drives validation; ``sql_type`` is the type in ``claims``.
COLUMNS: tuple[Column, ...] = (
    Column("claim_id", "str", "VARCHAR", True, "结算单号", "settlement / visit id; key of a claim within an institution"),
    Column("institution_code", "str", "VARCHAR", True, "定点医药机构编码", "designated institution code"),
    Column("patient_id_hash", "str", "VARCHAR", True, "参保人标识(脱敏)", "pseudonymised insured-person id"),
    Column("gender", "enum", "VARCHAR", False, "性别", "M / F / U (also 男/女/未知, GB/T 2261.1 1/2/0/9); claim level"),
    Column("age", "int", "INTEGER", False, "年龄", "age in years at admission, 0-150; claim level", 0, 150),
    Column("admit_date", "date", "DATE", True, "入院/就诊日期", "YYYY-MM-DD (also YYYY/MM/DD, YYYYMMDD); claim level"),
    Column("discharge_date", "date", "DATE", False, "出院日期", "empty for outpatient / pharmacy; claim level"),
    Column("service_date", "date", "DATE", False, "费用发生日期", "date the line was charged; defaults to admit_date"),
    Column("visit_type", "enum", "VARCHAR", False, "就诊类型", "inpatient / outpatient / pharmacy (住院/门诊/药店); default inpatient when discharge_date is set, else outpatient"),
    Column("diagnosis_code", "str", "VARCHAR", False, "主诊断编码", "ICD-10 (医保版) principal diagnosis; claim level"),
    Column("item_code", "str", "VARCHAR", True, "医保项目编码", "drug / service / consumable code"),
    Column("item_name", "str", "VARCHAR", False, "项目名称", "item name"),
    Column("item_category", "enum", "VARCHAR", True, "项目类别", "drug / exam / service / consumable / surgery (药品/检查/服务/耗材/手术)"),
    Column("drug_class", "str", "VARCHAR", False, "药品类别", "pharmacological class for drug lines, e.g. antibiotic, ppi"),
    Column("quantity", "dec", "DECIMAL(18,4)", True, "数量", "billed quantity, >= 0", 0, None),
    Column("unit_price", "dec", "DECIMAL(18,4)", True, "单价", "unit price in yuan, >= 0", 0, None),
    Column("amount", "dec", "DECIMAL(18,2)", True, "金额", "line amount in yuan, >= 0; must equal quantity x unit_price within the tolerance", 0, None),
    Column("department", "str", "VARCHAR", False, "科室", "department code or name; claim level for inpatient rules"),
    Column("doctor_id", "str", "VARCHAR", False, "医师编码", "prescribing / ordering doctor (医保医师代码)"),
    Column("drg_group", "str", "VARCHAR", False, "DRG/DIP病组", "group code; claim level"),
    Column("drg_weight", "dec", "DECIMAL(10,4)", False, "病组权重", "relative weight of the billed group, >= 0; claim level", 0, None),
    Column("presence_hours", "dec", "DECIMAL(6,2)", False, "日均在院时长(小时)", "average hours per day the patient was on the ward (0-24); claim level", 0, 24),
    Column("record_edits", "int", "INTEGER", False, "病历/医嘱修改次数", "number of edits of the record / orders, >= 0; claim level", 0, None),
    Column("record_edit_reasoned", "bool", "BOOLEAN", False, "修改有合理理由", "true when every edit has a recorded reason; claim level"),
    Column("stock_out_quantity", "dec", "DECIMAL(18,4)", False, "出库数量", "quantity dispensed from stock for this line (进销存), >= 0", 0, None),
    Column("ddd", "dec", "DECIMAL(18,4)", False, "DDD数", "defined daily doses represented by this drug line, >= 0", 0, None),
    Column("bed_days", "int", "INTEGER", False, "住院床日", "bed days of the stay, >= 0; claim level", 0, None),
    Column("is_emergency", "bool", "BOOLEAN", False, "急诊/抢救", "emergency or rescue admission; claim level"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
_COL = {c.name: c for c in COLUMNS}

# Stable row-error codes -> (Chinese, English) message templates.
ROW_ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    "row_column_count": ("列数与表头不符", "number of fields differs from the header"),
    "row_csv_format": ("CSV 格式错误", "malformed CSV line"),
    "row_quote": ("引号不成对(字段内不允许换行)", "unbalanced quote (line breaks inside a field are not allowed)"),
    "row_encoding": ("含无法解码的字符", "contains bytes that cannot be decoded"),
    "row_required": ("必填字段为空", "required field is empty"),
    "row_number": ("不是有效数字", "not a valid number"),
    "row_integer": ("不是有效整数", "not a valid integer"),
    "row_date": ("不是有效日期", "not a valid date"),
    "row_enum": ("取值不在允许范围内", "value not in the allowed set"),
    "row_bool": ("不是有效的是/否值", "not a valid yes/no value"),
    "row_range": ("数值超出允许范围", "value out of the allowed range"),
    "row_date_order": ("出院日期早于入院日期", "discharge date before admission date"),
    "row_amount_mismatch": ("金额与数量×单价不符", "amount differs from quantity x unit price"),
    "row_unknown_institution": ("机构编码不在定点机构名单中", "institution code not in the list of designated institutions"),
    "row_too_long": ("字段过长", "field too long"),
}

_FILE_ERRORS: dict[str, tuple[str, str]] = {
    "claims_file_not_found": ("文件不存在", "file not found"),
    "claims_empty_file": ("文件为空", "file is empty"),
    "claims_not_csv": ("不是有效的 CSV 结算明细文件", "not a CSV settlement file"),
    "claims_encoding": ("无法识别文件编码(仅支持 UTF-8 与 GBK)", "cannot decode the file (UTF-8 and GBK are supported)"),
    "claims_missing_columns": ("表头缺少必填列", "header lacks required columns"),
    "claims_duplicate_columns": ("表头含重复列名", "header repeats a column name"),
    "claims_id_collision": ("文件标识冲突", "file id collision"),
    "claims_count_mismatch": ("导入行数核对不平，已回滚", "row accounting does not balance; import rolled back"),
}


class ClaimsImportError(Exception):
    """A file-level failure; nothing was loaded. ``code`` is stable."""

    http_status = 422

    def __init__(self, code: str, detail: str = "", **details: Any):
        zh, en = _FILE_ERRORS.get(code, ("导入失败", "import failed"))
        self.code = code
        self.zh = zh + (f": {detail}" if detail else "")
        self.en = en + (f": {detail}" if detail else "")
        self.details = details
        super().__init__(f"[{code}] {self.zh} / {self.en}")


@dataclass(frozen=True)
class RowError:
    line: int
    code: str
    field: str | None
    value: str | None

    @property
    def zh(self) -> str:
        msg = ROW_ERROR_MESSAGES.get(self.code, ("错误", "error"))[0]
        where = f"字段 {self.field}：" if self.field else ""
        val = f"，值「{self.value}」" if self.value not in (None, "") else ""
        return f"第{self.line}行 {where}{msg}{val}"

    @property
    def en(self) -> str:
        msg = ROW_ERROR_MESSAGES.get(self.code, ("错误", "error"))[1]
        where = f" field {self.field}:" if self.field else ""
        val = f" (value {self.value!r})" if self.value not in (None, "") else ""
        return f"line {self.line}:{where} {msg}{val}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "field": self.field, "value": self.value,
                "message_zh": self.zh, "message_en": self.en}


@dataclass
class ImportReport:
    status: str  # "loaded" | "duplicate"
    import_id: str  # first 12 hex chars of the file SHA-256; stable across databases
    file_sha256: str
    filename: str
    file_format: str  # csv | parquet
    encoding: str | None
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    blank_lines: int = 0
    errors: list[RowError] = field(default_factory=list)  # first ``max_reported_errors``
    error_counts: dict[str, int] = field(default_factory=dict)  # code -> number of errors
    ignored_columns: list[str] = field(default_factory=list)
    previous_import_at: str | None = None
    elapsed_s: float = 0.0

    @property
    def message_zh(self) -> str:
        if self.status == "duplicate":
            return f"该文件已于 {self.previous_import_at} 导入(标识 {self.import_id})，本次未新增数据"
        return f"读取 {self.rows_read} 行，导入 {self.rows_loaded} 行，拒绝 {self.rows_rejected} 行"

    @property
    def message_en(self) -> str:
        if self.status == "duplicate":
            return (f"file already imported at {self.previous_import_at} (id {self.import_id}); "
                    "nothing new loaded")
        return f"read {self.rows_read}, loaded {self.rows_loaded}, rejected {self.rows_rejected}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "import_id": self.import_id, "file_sha256": self.file_sha256,
            "filename": self.filename, "file_format": self.file_format, "encoding": self.encoding,
            "rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected, "blank_lines": self.blank_lines,
            "errors": [e.as_dict() for e in self.errors], "error_counts": dict(self.error_counts),
            "ignored_columns": list(self.ignored_columns),
            "previous_import_at": self.previous_import_at, "elapsed_s": self.elapsed_s,
            "message_zh": self.message_zh, "message_en": self.message_en,
        }


# --------------------------------------------------------------------------------------------
# database


def connect(db_path: str | os.PathLike[str] | None = None, *, memory_limit: str | None = "768MB",
            threads: int | None = None, temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open (or create) the screening database and make sure the schema exists.

    ``db_path=None`` gives an in-memory database. ``memory_limit`` caps DuckDB's buffer pool
    (it spills to ``temp_directory`` beyond it); ``threads`` defaults to DuckDB's choice.
    """
    conn = duckdb.connect(str(db_path) if db_path is not None else ":memory:")
    conn.execute("SET enable_progress_bar = false")
    if memory_limit:
        conn.execute(f"SET memory_limit = '{_safe_setting(memory_limit)}'")
    if threads:
        conn.execute(f"SET threads = {int(threads)}")
    if temp_directory:
        conn.execute(f"SET temp_directory = '{_safe_setting(temp_directory)}'")
    # Row order is never relied on (every rule orders explicitly); this lowers memory on inserts.
    conn.execute("SET preserve_insertion_order = false")
    ensure_schema(conn)
    return conn


def _safe_setting(value: str) -> str:
    if "'" in value:
        raise ValueError("quote in setting value")
    return value


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    cols = ",\n  ".join(f"{c.name} {c.sql_type}" for c in COLUMNS)
    conn.execute(f"""
CREATE TABLE IF NOT EXISTS claim_imports (
  file_sha256 VARCHAR PRIMARY KEY,
  import_id VARCHAR NOT NULL UNIQUE,
  filename VARCHAR,
  file_format VARCHAR,
  encoding VARCHAR,
  imported_at TIMESTAMP,
  rows_read BIGINT,
  rows_loaded BIGINT,
  rows_rejected BIGINT,
  blank_lines BIGINT
);
CREATE TABLE IF NOT EXISTS claims (
  import_id VARCHAR NOT NULL,
  src_line BIGINT NOT NULL,
  {cols},
  _load_errors VARCHAR  -- always NULL once an import commits (bad rows move to claim_rejects)
);
CREATE TABLE IF NOT EXISTS claim_rejects (
  import_id VARCHAR NOT NULL,
  line BIGINT NOT NULL,
  code VARCHAR NOT NULL,
  field VARCHAR,
  value VARCHAR
);
CREATE TABLE IF NOT EXISTS institutions (
  institution_code VARCHAR PRIMARY KEY,
  level VARCHAR
);
""")


def load_institution_levels(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Institution code -> level, as recorded by ``import_claims(known_institutions=<mapping>)``."""
    ensure_schema(conn)
    return dict(conn.execute("SELECT institution_code, level FROM institutions").fetchall())


# --------------------------------------------------------------------------------------------
# streaming passes


def _sha256(path: Path, size: int, progress: ProgressCallback | None) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress("hash", done, size)
    return h.hexdigest()


@dataclass
class _Prepared:
    encoding: str
    header: list[str]
    records: int = 0  # records written to the UTF-8 copy (go to DuckDB)
    blank_lines: int = 0
    python_rejects: list[tuple[int, str, str]] = field(default_factory=list)  # line, code, value


class _RestartWithGBK(Exception):
    pass


def _normalise_encoding(encoding: str) -> str:
    e = encoding.lower().replace("_", "-")
    if e in ("gbk", "gb2312", "cp936", "gb18030"):
        return "gb18030"  # superset of GBK / GB2312
    if e in ("utf8", "utf-8"):
        return "utf-8"
    if e in ("utf-8-sig", "utf8-sig"):
        return "utf-8-sig"
    codecs.lookup(e)  # raises LookupError for unknown names
    return e


def _parse_header(line: str) -> list[str]:
    import csv

    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration) as exc:
        raise ClaimsImportError("claims_not_csv", f"header: {exc}") from exc
    return [f.strip().lstrip("\ufeff").strip().lower() for f in fields]


_REPLACEMENT = "\ufffd".encode()
_LINE_FMT = b"%d,%b".__mod__


class _Utf8Source:
    """Yields UTF-8 byte chunks of ``src`` decoded from ``encoding``.

    UTF-8 input passes through untouched after strict validation. In auto mode the first
    decoding error triggers a vote on the chunk that holds it: if GB18030 decodes that chunk
    with fewer errors than UTF-8, the file is GBK (raises ``_RestartWithGBK``); otherwise the
    file is UTF-8 with corrupt bytes: from then on the text is decoded with U+FFFD, and the lines
    holding it are rejected (``may_have_replacements``).
    """

    def __init__(self, encoding: str, auto: bool):
        self.encoding = encoding
        self.passthrough = encoding in ("utf-8", "utf-8-sig")
        self.auto = auto
        self.may_have_replacements = not self.passthrough
        self.first = True
        name = "utf-8" if encoding == "utf-8-sig" else encoding
        self.decoder = codecs.getincrementaldecoder(name)(
            errors="strict" if self.passthrough else "replace")

    def convert(self, raw: bytes, final: bool) -> bytes:
        if self.first:
            self.first = False
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
        if not self.passthrough:
            return self.decoder.decode(raw, final=final).encode("utf-8")
        try:
            self.decoder.decode(raw, final=final)  # validation only
        except UnicodeDecodeError as exc:
            if self.auto and self.encoding == "utf-8":
                as_utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode(raw, final)
                as_gbk = codecs.getincrementaldecoder("gb18030")("replace").decode(raw, final)
                if as_gbk.count("\ufffd") < as_utf8.count("\ufffd"):
                    raise _RestartWithGBK() from exc
            # corrupt bytes in a UTF-8 file: replace them, reject their lines
            self.passthrough = False
            self.may_have_replacements = True
            self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            return self.decoder.decode(raw, final=final).encode("utf-8")
        return raw


def _prepare_csv(src: Path, dst: Path, encoding: str, size: int, auto: bool,
                 progress: ProgressCallback | None) -> _Prepared:
    """Write a UTF-8 copy of ``src`` to ``dst`` with the physical line number as first field.

    Works on bytes, 4 MiB at a time. Empty lines are skipped and counted; a line with an odd
    number of quotes (``row_quote``) or undecodable bytes (``row_encoding``) is rejected here
    and not passed on, so it cannot swallow the following lines.
    """
    source = _Utf8Source(encoding, auto)
    prep: _Prepared | None = None
    carry = b""
    lineno = 0  # physical line number of the last complete line processed
    done = 0
    rejects: list[tuple[int, str, str]] = []
    with open(src, "rb") as f, open(dst, "wb") as out:
        while True:
            raw = f.read(_CHUNK)
            final = not raw
            data = source.convert(raw, final)
            done += len(raw)
            buf = carry + data if carry else data
            if final:
                carry = b""
                block = buf if (not buf or buf.endswith(b"\n")) else buf + b"\n"
            else:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    carry = buf
                    continue
                block, carry = buf[: cut + 1], buf[cut + 1:]
            if block:
                if b"\r" in block:
                    block = block.replace(b"\r\n", b"\n")
                lines = block.split(b"\n")
                lines.pop()  # block ends with a newline: last element is empty
                start = 0
                if prep is None:
                    while start < len(lines) and not lines[start].strip():
                        start += 1
                    if start == len(lines):
                        lineno += len(lines)
                        if final:
                            break
                        continue
                    header_raw = lines[start]
                    if b"\x00" in header_raw:
                        raise ClaimsImportError("claims_not_csv", "binary content")
                    header = _parse_header(header_raw.decode("utf-8", errors="replace"))
                    prep = _Prepared(encoding=encoding, header=header)
                    out.write(_csv_header(header).encode("utf-8"))
                    start += 1
                base = lineno + 1  # physical number of lines[0]
                lineno += len(lines)
                body = lines[start:] if start else lines
                first_no = base + start
                suspicious = (b'"' in block or b"" in body
                              or (source.may_have_replacements and _REPLACEMENT in block))
                if not suspicious:
                    if body:
                        out.write(b"\n".join(map(_LINE_FMT, zip(range(first_no, first_no + len(body)), body))))
                        out.write(b"\n")
                    prep.records += len(body)
                else:
                    parts: list[bytes] = []
                    for n, ln in enumerate(body, first_no):
                        if not ln:
                            prep.blank_lines += 1
                        elif source.may_have_replacements and _REPLACEMENT in ln:
                            rejects.append((n, "row_encoding", ln.decode("utf-8", "replace")[:_MAX_VALUE_CHARS]))
                        elif ln.count(b'"') & 1:
                            rejects.append((n, "row_quote", ln.decode("utf-8", "replace")[:_MAX_VALUE_CHARS]))
                        else:
                            parts.append(b"%d,%b\n" % (n, ln))
                    prep.records += len(parts)
                    out.write(b"".join(parts))
            if progress:
                progress("prepare", done, size)
            if final:
                break
    if prep is None:
        raise ClaimsImportError("claims_empty_file", "no header line")
    prep.python_rejects = rejects
    return prep


def _csv_header(header: list[str]) -> str:
    return "__line," + ",".join(_quote(h) for h in header) + "\n"


def _quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _sniff_start(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(65536)


# --------------------------------------------------------------------------------------------
# validation SQL

_TRUE = ("1", "true", "t", "y", "yes", "是", "真")
_FALSE = ("0", "false", "f", "n", "no", "否", "假")
_GENDER = {"m": "M", "male": "M", "男": "M", "1": "M",
           "f": "F", "female": "F", "女": "F", "2": "F",
           "u": "U", "unknown": "U", "未知": "U", "0": "U", "9": "U", "未说明": "U"}
_CATEGORY = {"drug": "drug", "药品": "drug", "西药": "drug", "中成药": "drug", "中药饮片": "drug",
             "exam": "exam", "检查": "exam", "检验": "exam", "检查检验": "exam",
             "service": "service", "服务": "service", "诊疗": "service", "医疗服务": "service",
             "consumable": "consumable", "耗材": "consumable", "材料": "consumable", "医用耗材": "consumable",
             "surgery": "surgery", "手术": "surgery"}
_VISIT = {"inpatient": "inpatient", "住院": "inpatient", "outpatient": "outpatient",
          "门诊": "outpatient", "急诊": "outpatient", "pharmacy": "pharmacy", "药店": "pharmacy",
          "购药": "pharmacy"}


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _map_case(expr: str, mapping: Mapping[str, str]) -> str:
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in mapping.items())
    return f"(CASE lower({expr}) {whens} END)"


def _bool_case(expr: str) -> str:
    t = ", ".join(_lit(v) for v in _TRUE)
    f = ", ".join(_lit(v) for v in _FALSE)
    return f"(CASE WHEN lower({expr}) IN ({t}) THEN true WHEN lower({expr}) IN ({f}) THEN false END)"


def _date_expr(expr: str) -> str:
    return (f"coalesce(try_cast({expr} AS DATE), "
            f"try_strptime({expr}, ['%Y/%m/%d', '%Y%m%d', '%Y/%m/%d %H:%M:%S'])::DATE)")


def _err(cond: str, code: str, fieldname: str | None, value_expr: str | None) -> tuple[str, str]:
    """(condition, error-entry expression) for one check."""
    val = f"left({value_expr}, {_MAX_VALUE_CHARS})" if value_expr else "''"
    return cond, (f"CASE WHEN {cond} THEN {_lit(code + _FSEP + (fieldname or '') + _FSEP)} || "
                  f"coalesce({val}, '') END")


def _validation_sql(source_sql: str, present: set[str], import_id: str,
                    known_institutions: bool, amount_tolerance: float | None,
                    pretyped: frozenset[str] = frozenset()) -> str:
    """SELECT producing the typed claim columns and ``_load_errors`` (NULL when the row is good).

    ``pretyped`` columns were already cast by the CSV reader (its cast failures are rejected
    by the reader and reported from its rejects table); the others arrive as text.
    """
    raw: dict[str, str] = {}
    for c in COLUMNS:
        if c.name not in present:
            raw[c.name] = f"CAST(NULL AS {c.sql_type if c.name in pretyped else 'VARCHAR'})"
        elif c.name in pretyped:
            raw[c.name] = f'"{c.name}"'
        else:
            # trim only when needed: trim() copies every string, the tests below do not
            q = f'"{c.name}"'
            raw[c.name] = (f"CASE WHEN starts_with({q}, ' ') OR ends_with({q}, ' ') "
                           f"THEN nullif(trim({q}), '') ELSE {q} END")

    inner = ['"__line"'] + [f"{raw[c.name]} AS r_{c.name}" for c in COLUMNS]
    inner_sql = f"SELECT {', '.join(inner)} FROM {source_sql}"

    typed: dict[str, str] = {}
    errs: list[tuple[str, str]] = []
    for c in COLUMNS:
        r, t = f"r_{c.name}", f"t_{c.name}"
        if c.name in pretyped or c.kind == "str":
            typed[c.name] = r
        else:
            if c.kind == "int":
                typed[c.name], code = f"try_cast({r} AS INTEGER)", "row_integer"
            elif c.kind == "dec":
                typed[c.name], code = f"try_cast({r} AS {c.sql_type})", "row_number"
            elif c.kind == "date":
                typed[c.name], code = _date_expr(r), "row_date"
            elif c.kind == "bool":
                typed[c.name], code = _bool_case(r), "row_bool"
            else:  # enum
                mapping = {"gender": _GENDER, "item_category": _CATEGORY, "visit_type": _VISIT}[c.name]
                typed[c.name], code = _map_case(r, mapping), "row_enum"
            errs.append(_err(f"{r} IS NOT NULL AND {t} IS NULL", code, c.name, r))
        if c.required:
            errs.append(_err(f"{r} IS NULL", "row_required", c.name, None))
        if c.min_value is not None or c.max_value is not None:
            conds = []
            if c.min_value is not None:
                conds.append(f"{t} < {c.min_value}")
            if c.max_value is not None:
                conds.append(f"{t} > {c.max_value}")
            errs.append(_err(" OR ".join(conds), "row_range", c.name, f"CAST({r} AS VARCHAR)"))

    errs.append(_err("t_discharge_date < t_admit_date", "row_date_order", "discharge_date",
                     "CAST(r_discharge_date AS VARCHAR)"))
    if amount_tolerance is not None:
        tol = float(amount_tolerance)
        errs.append(_err(f"abs(t_amount - t_quantity * t_unit_price) > {tol!r}",
                         "row_amount_mismatch", "amount", "CAST(r_amount AS VARCHAR)"))
    if known_institutions:
        errs.append(_err("t_institution_code NOT IN (SELECT code FROM _fg_known_inst)",
                         "row_unknown_institution", "institution_code", "r_institution_code"))

    mid = ['"__line"'] + [f"r_{c.name}" for c in COLUMNS] + [f"{typed[c.name]} AS t_{c.name}" for c in COLUMNS]
    mid_sql = f"SELECT {', '.join(mid)} FROM ({inner_sql})"

    final_cols: list[str] = []
    for c in COLUMNS:
        expr = f"t_{c.name}"
        if c.name == "gender":
            expr = "coalesce(t_gender, 'U')"
        elif c.name == "service_date":
            expr = "coalesce(t_service_date, t_admit_date)"
        elif c.name == "visit_type":
            expr = ("coalesce(t_visit_type, CASE WHEN t_discharge_date IS NOT NULL THEN 'inpatient' "
                    "ELSE 'outpatient' END)")
        elif c.name == "record_edits":
            expr = "coalesce(t_record_edits, 0)"
        elif c.name == "is_emergency":
            expr = "coalesce(t_is_emergency, false)"
        elif c.name == "bed_days":
            expr = "coalesce(t_bed_days, 0)"
        final_cols.append(f"{expr} AS {c.name}")
    # The entry strings are only built for rows where some check fails (CASE evaluates its
    # THEN branch on the selected rows only).
    any_err = " OR ".join(f"({cond})" for cond, _ in errs)
    entries = ", ".join(e for _, e in errs)
    err_sql = f"CASE WHEN {any_err} THEN concat_ws({_lit(_SEP)}, {entries}) END AS _load_errors"
    return (f"SELECT {_lit(import_id)} AS import_id, CAST(\"__line\" AS BIGINT) AS src_line, "
            f"{', '.join(final_cols)}, {err_sql} FROM ({mid_sql})")


# --------------------------------------------------------------------------------------------
# import


def import_claims(path: str | os.PathLike[str],
                  db_path_or_conn: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
                  known_institutions: Iterable[str] | Mapping[str, str] | None = None,
                  encoding: str = "auto", *,
                  progress: ProgressCallback | None = None,
                  amount_tolerance: float | None = 0.01,
                  max_reported_errors: int = 1000,
                  tmp_dir: str | os.PathLike[str] | None = None) -> ImportReport:
    """Validate and load one settlement-record file; see the module docstring for the format.

    ``known_institutions``: the designated institutions of the pooling area; a row with any
    other ``institution_code`` is rejected. A mapping ``code -> level`` (二级及以上 / 基层 /
    药店 ...) is also stored in ``institutions`` for review sampling.
    ``progress(phase, done, total)`` is called with phases ``hash`` and ``prepare`` (bytes),
    then ``load``, ``validate`` and ``done`` (rows).
    Raises ``ClaimsImportError`` (with ``code``) for a file that cannot be imported at all.
    """
    t0 = time.perf_counter()
    src = Path(path)
    if not src.is_file():
        raise ClaimsImportError("claims_file_not_found", str(src))
    size = src.stat().st_size
    if size == 0:
        raise ClaimsImportError("claims_empty_file", src.name)

    own_conn = not isinstance(db_path_or_conn, duckdb.DuckDBPyConnection)
    conn = connect(db_path_or_conn) if own_conn else db_path_or_conn
    try:
        ensure_schema(conn)
        sha = _sha256(src, size, progress)
        import_id = sha[:12]
        prev = conn.execute("SELECT import_id, imported_at, rows_read, rows_loaded, rows_rejected, "
                            "file_format, encoding, blank_lines FROM claim_imports "
                            "WHERE file_sha256 = ?", [sha]).fetchone()
        if prev is not None:
            if progress:
                progress("done", 0, 0)
            return ImportReport(status="duplicate", import_id=prev[0], file_sha256=sha,
                                filename=src.name, file_format=prev[5], encoding=prev[6],
                                rows_read=0, rows_loaded=0, rows_rejected=0,
                                previous_import_at=str(prev[1]),
                                elapsed_s=time.perf_counter() - t0)
        clash = conn.execute("SELECT file_sha256 FROM claim_imports WHERE import_id = ?",
                             [import_id]).fetchone()
        if clash is not None:
            raise ClaimsImportError("claims_id_collision", import_id)

        head = _sniff_start(src)
        if head.startswith(b"PAR1"):
            return _import_parquet(conn, src, sha, import_id, known_institutions, progress,
                                   amount_tolerance, max_reported_errors, t0)
        return _import_csv(conn, src, size, head, sha, import_id, known_institutions, encoding,
                           progress, amount_tolerance, max_reported_errors, tmp_dir, t0)
    finally:
        if own_conn:
            conn.close()


def _check_header(header: list[str]) -> tuple[set[str], list[str]]:
    if len(header) < 2:
        raise ClaimsImportError("claims_not_csv", "header has fewer than two comma-separated columns")
    seen: set[str] = set()
    dups = sorted({h for h in header if h in seen or seen.add(h)})  # type: ignore[func-returns-value]
    if dups:
        raise ClaimsImportError("claims_duplicate_columns", ", ".join(dups), columns=dups)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise ClaimsImportError("claims_missing_columns", ", ".join(missing), missing=missing)
    present = {h for h in header if h in _COL}
    ignored = [h for h in header if h not in _COL]
    return present, ignored


# numbers are cast by DuckDB's CSV reader (fast; failures land in its rejects table)
_PRETYPED = frozenset(c.name for c in COLUMNS if c.kind in ("int", "dec"))


def _import_csv(conn, src: Path, size: int, head: bytes, sha: str, import_id: str,
                known_institutions, encoding: str, progress, amount_tolerance,
                max_reported_errors: int, tmp_dir, t0: float) -> ImportReport:
    auto = encoding.lower() == "auto"
    if head.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        if b"\x00" in head:
            raise ClaimsImportError("claims_not_csv", "binary content (NUL bytes)")
        try:
            enc = "utf-8" if auto else _normalise_encoding(encoding)
        except LookupError as exc:
            raise ClaimsImportError("claims_encoding", encoding) from exc

    workdir = Path(tempfile.mkdtemp(prefix="fg_claims_", dir=tmp_dir))
    tmp = workdir / "normalised.csv"
    try:
        try:
            prep = _prepare_csv(src, tmp, enc, size, auto, progress)
        except _RestartWithGBK:
            enc = "gb18030"
            prep = _prepare_csv(src, tmp, enc, size, False, progress)
        except UnicodeDecodeError as exc:  # pragma: no cover - decoders run with 'replace'
            raise ClaimsImportError("claims_encoding", str(exc)) from exc
        present, ignored = _check_header(prep.header)
        enc_label = {"gb18030": "gbk", "utf-8-sig": "utf-8-sig"}.get(enc, enc)
        columns = {"__line": "BIGINT"}
        for h in prep.header:
            columns[h] = _COL[h].sql_type if h in _PRETYPED else "VARCHAR"
        cols_sql = "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in columns.items()) + "}"
        source = (f"read_csv({_lit(str(tmp))}, header = true, auto_detect = false, "
                  f"columns = {cols_sql}, delim = ',', quote = '\"', escape = '\"', "
                  f"store_rejects = true, rejects_table = '_fg_rej_errors', "
                  f"rejects_scan = '_fg_rej_scans', ignore_errors = true, "
                  f"max_line_size = 2097152)")
        return _load(conn, source, present, ignored, sha, import_id, src.name, "csv", enc_label,
                     prep.records, prep.blank_lines, prep.python_rejects, known_institutions,
                     progress, amount_tolerance, max_reported_errors, t0, csv_rejects=True,
                     pretyped=_PRETYPED)
    finally:
        try:
            tmp.unlink(missing_ok=True)
            workdir.rmdir()
        except OSError:  # pragma: no cover
            pass


def _import_parquet(conn, src: Path, sha: str, import_id: str, known_institutions, progress,
                    amount_tolerance, max_reported_errors: int, t0: float) -> ImportReport:
    try:
        desc = conn.execute(f"DESCRIBE SELECT * FROM read_parquet({_lit(str(src))})").fetchall()  # nosec B608 - SQL text from code constants; values via _lit()/bound params
        total = conn.execute(f"SELECT count(*) FROM read_parquet({_lit(str(src))})").fetchone()[0]  # nosec B608 - SQL text from code constants; values via _lit()/bound params
    except duckdb.Error as exc:
        raise ClaimsImportError("claims_not_csv", f"unreadable parquet: {exc}") from exc
    header = [str(r[0]).strip().lower() for r in desc]
    present, ignored = _check_header(header)
    orig = {str(r[0]).strip().lower(): str(r[0]) for r in desc}
    sel = ["CAST(file_row_number + 1 AS VARCHAR) AS \"__line\""]
    for h in present:
        sel.append(f"CAST(\"{orig[h]}\" AS VARCHAR) AS \"{h}\"")
    source = (f"(SELECT {', '.join(sel)} FROM read_parquet({_lit(str(src))}, "
              f"file_row_number = true))")
    return _load(conn, source, present, ignored, sha, import_id, src.name, "parquet", None,
                 int(total), 0, [], known_institutions, progress, amount_tolerance,
                 max_reported_errors, t0, csv_rejects=False)


def _load(conn, source: str, present: set[str], ignored: list[str], sha: str, import_id: str,
          filename: str, fmt: str, enc_label: str | None, records: int, blank_lines: int,
          python_rejects: list[tuple[int, str, str]], known_institutions, progress,
          amount_tolerance, max_reported_errors: int, t0: float, *, csv_rejects: bool,
          pretyped: frozenset[str] = frozenset()) -> ImportReport:
    levels: dict[str, str] | None = None
    known: list[str] | None = None
    if known_institutions is not None:
        if isinstance(known_institutions, Mapping):
            levels = {str(k): str(v) for k, v in known_institutions.items()}
            known = list(levels)
        else:
            known = [str(k) for k in known_institutions]

    rows_read = records + len(python_rejects)
    if progress:
        progress("load", 0, rows_read)
    temps = ("_fg_rej_errors", "_fg_rej_scans", "_fg_known_inst")
    conn.execute("BEGIN TRANSACTION")
    try:
        for t in temps:
            conn.execute(f"DROP TABLE IF EXISTS {t}")
        if known is not None:
            conn.execute("CREATE TEMP TABLE _fg_known_inst AS SELECT unnest(?::VARCHAR[]) AS code",
                         [known])
        sql = _validation_sql(source, present, import_id, known is not None, amount_tolerance,
                              pretyped)
        names = ", ".join(("import_id", "src_line") + COLUMN_NAMES + ("_load_errors",))
        # One pass: every parsed row goes in with its error list; bad rows are then moved out.
        staged = conn.execute(f"INSERT INTO claims ({names}) {sql}").fetchone()[0]
        if progress:
            progress("validate", staged, rows_read)
        conn.execute(
            f"""
INSERT INTO claim_rejects
SELECT import_id, src_line, parts[1], nullif(parts[2], ''), nullif(parts[3], '')
FROM (SELECT import_id, src_line,
             string_split(unnest(string_split(_load_errors, {_lit(_SEP)})), {_lit(_FSEP)}) AS parts
      FROM claims WHERE import_id = ? AND _load_errors IS NOT NULL)""", [import_id])
        conn.execute("DELETE FROM claims WHERE import_id = ? AND _load_errors IS NOT NULL", [import_id])
        loaded = conn.execute("SELECT count(*) FROM claims WHERE import_id = ?", [import_id]).fetchone()[0]
        parser_rejected = _copy_parser_rejects(conn, import_id) if csv_rejects else 0
        if python_rejects:
            lines, codes, values = zip(*python_rejects)
            conn.execute("""
INSERT INTO claim_rejects
SELECT ?, unnest(?::BIGINT[]), unnest(?::VARCHAR[]), NULL, unnest(?::VARCHAR[])""",
                         [import_id, list(lines), list(codes), list(values)])
        rejected = conn.execute("SELECT count(DISTINCT line) FROM claim_rejects WHERE import_id = ?",
                                [import_id]).fetchone()[0]
        if staged + parser_rejected != records or loaded + rejected != rows_read:
            raise ClaimsImportError(
                "claims_count_mismatch",
                f"read {rows_read}, parsed {staged}, parser rejects {parser_rejected}, "
                f"loaded {loaded}, rejected {rejected}")
        conn.execute("INSERT INTO claim_imports VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?)",
                     [sha, import_id, filename, fmt, enc_label, rows_read, loaded, rejected,
                      blank_lines])
        if levels:
            conn.execute("""
INSERT OR REPLACE INTO institutions
SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])""", [list(levels), list(levels.values())])
        for t in temps:
            conn.execute(f"DROP TABLE IF EXISTS {t}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        for t in temps:
            try:
                conn.execute(f"DROP TABLE IF EXISTS {t}")
            except duckdb.Error:  # pragma: no cover
                pass
        raise

    err_rows = conn.execute("""
SELECT line, code, field, value FROM claim_rejects WHERE import_id = ?
ORDER BY line, code, field LIMIT ?""", [import_id, max_reported_errors]).fetchall()
    counts = dict(conn.execute("""
SELECT code, count(*) FROM claim_rejects WHERE import_id = ? GROUP BY code ORDER BY code""",
                               [import_id]).fetchall())
    if progress:
        progress("done", rows_read, rows_read)
    return ImportReport(status="loaded", import_id=import_id, file_sha256=sha, filename=filename,
                        file_format=fmt, encoding=enc_label, rows_read=rows_read,
                        rows_loaded=int(loaded), rows_rejected=int(rejected),
                        blank_lines=blank_lines,
                        errors=[RowError(int(r[0]), r[1], r[2], r[3]) for r in err_rows],
                        error_counts={k: int(v) for k, v in counts.items()},
                        ignored_columns=ignored, elapsed_s=time.perf_counter() - t0)


_PARSER_CODES = {"TOO MANY COLUMNS": "row_column_count", "MISSING COLUMNS": "row_column_count",
                 "LINE SIZE OVER MAXIMUM": "row_too_long"}


def _copy_parser_rejects(conn, import_id: str) -> int:
    """Move DuckDB CSV-reader rejects into ``claim_rejects``; returns the number of lines.

    Cast failures (one entry per failing column) keep their column; structural failures keep
    the first entry of the line. The physical line number is the first field we prefixed.
    """
    exists = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_fg_rej_errors'"
                          ).fetchone()[0]
    if not exists:
        return 0
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in _PARSER_CODES.items())
    kinds = " ".join(f"WHEN {_lit(c.name)} THEN {_lit('row_integer' if c.kind == 'int' else 'row_number')}"
                     for c in COLUMNS if c.name in _PRETYPED)
    conn.execute(
        f"""
INSERT INTO claim_rejects
SELECT ?, line, code, field, left(value, {_MAX_VALUE_CHARS}) FROM (
  SELECT try_cast(split_part(csv_line, ',', 1) AS BIGINT) AS line,
         CASE WHEN CAST(error_type AS VARCHAR) = 'CAST'
              THEN CASE column_name {kinds} ELSE 'row_csv_format' END
              ELSE CASE CAST(error_type AS VARCHAR) {whens} ELSE 'row_csv_format' END END AS code,
         CASE WHEN CAST(error_type AS VARCHAR) = 'CAST' THEN column_name END AS field,
         CASE WHEN CAST(error_type AS VARCHAR) = 'CAST'
              THEN regexp_extract(error_message, 'Could not convert string "(.*)" to', 1)
              ELSE substr(csv_line, strpos(csv_line, ',') + 1) END AS value,
         row_number() OVER (PARTITION BY try_cast(split_part(csv_line, ',', 1) AS BIGINT),
                                         CASE WHEN CAST(error_type AS VARCHAR) = 'CAST' THEN column_name END
                            ORDER BY byte_position) AS k,
         CAST(error_type AS VARCHAR) AS et
  FROM _fg_rej_errors)
WHERE k = 1 AND (et = 'CAST' OR field IS NULL)""", [import_id])
    return conn.execute("SELECT count(DISTINCT try_cast(split_part(csv_line, ',', 1) AS BIGINT)) "
                        "FROM _fg_rej_errors").fetchone()[0]
