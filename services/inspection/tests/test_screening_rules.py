"""One test per screening rule, with the hit / no-hit boundary of its threshold (seed 001)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fundguard_inspection.screening import (RULES, RuleSet, connect, get_rule, import_claims,
                                            load_hits, run_screening)
from fundguard_inspection.screening.samples import row, write_claims_csv


def screen(tmp_path, rows, rule_id, ruleset=None, name="claims.csv"):
    """Import ``rows`` (row k on line k + 2) into a fresh DB and run one rule."""
    conn = connect(memory_limit="256MB", threads=1)
    path = write_claims_csv(tmp_path / name, rows)
    rep = import_claims(path, conn)
    assert rep.rows_rejected == 0, [e.en for e in rep.errors]
    result = run_screening(conn, ruleset or RuleSet.default(), rules=[rule_id])
    hits = load_hits(conn, result.run_id)
    assert result.hits_per_rule == {rule_id: len(hits)}
    assert all(h.rule_id == rule_id for h in hits)
    conn.close()
    return hits


def by_claim(hits):
    return {h.claim_id: h for h in hits}


def test_rule_catalogue_carries_seed_thresholds_and_legal_hooks():
    defaults = {r.id: r.defaults for r in RULES}
    assert defaults["hanging_bed"]["min_presence_hours"] == 6
    assert defaults["split_admission"]["max_gap_days"] == 15
    assert defaults["stock_mismatch"]["max_diff_pct"] == 5
    assert defaults["exam_diagnosis_mismatch"]["min_match_rate_pct"] == 80
    assert defaults["combined_drugs"]["max_drugs_per_class"] == 2
    assert defaults["antibiotic_intensity"]["max_ddd_per_100_bed_days"] == 40
    assert defaults["record_edits"]["max_edits_without_reason"] == 3
    assert get_rule("hanging_bed").legal_hook == "条例第38条第(一)项"
    assert get_rule("split_admission").legal_hook == "条例第38条第(一)项"
    assert get_rule("duplicate_charge").legal_hook == "条例第38条第(三)项"
    for r in RULES:
        assert r.name_zh and r.legal_hook and r.threshold_source and r.amount_basis
        assert "条例" in r.legal_hook or "细则" in r.legal_hook


# 挂床住院 ------------------------------------------------------------------------------------

def test_hanging_bed(tmp_path):
    rows = [
        row(claim_id="A", presence_hours="5.99"),                           # line 2
        row(claim_id="A", item_code="X1", unit_price="30.00", presence_hours="5.99"),  # line 3
        row(claim_id="B", presence_hours=6),                                # exactly 6 h: no hit
        row(claim_id="C", visit_type="outpatient", discharge_date="", presence_hours=2, bed_days=0),
    ]
    hits = screen(tmp_path, rows, "hanging_bed")
    assert list(by_claim(hits)) == ["A"]
    h = hits[0]
    assert h.metric == pytest.approx(5.99) and h.threshold == 6
    assert h.suspected_amount == Decimal("80.00")  # the whole stay
    assert h.lines == (2, 3) and h.claim_ids == ("A",)
    assert h.legal_hook == "条例第38条第(一)项" and h.rule_name_zh == "挂床住院"

    # the area raises the threshold: B (exactly 6 h) is now below 6.5 h
    rs = RuleSet(version="510100-2026.1", area_code="510100",
                 parameters={"hanging_bed": {"min_presence_hours": 6.5}})
    assert set(by_claim(screen(tmp_path, rows, "hanging_bed", rs, "b.csv"))) == {"A", "B"}


# 分解住院 ------------------------------------------------------------------------------------

def test_split_admission(tmp_path):
    def stay(claim, patient, admit, discharge, dx="J18.9", **kw):
        return row(claim_id=claim, patient_id_hash=patient, admit_date=admit, discharge_date=discharge,
                   service_date=admit, diagnosis_code=dx, **kw)

    rows = [
        stay("S1", "P1", "2025-03-01", "2025-03-05"),
        stay("S2", "P1", "2025-03-20", "2025-03-22"),                       # 15 days: hit
        stay("S3", "P2", "2025-03-01", "2025-03-05"),
        stay("S4", "P2", "2025-03-21", "2025-03-23"),                       # 16 days: no hit
        stay("S5", "P3", "2025-03-01", "2025-03-05"),
        stay("S6", "P3", "2025-03-08", "2025-03-12", is_emergency="是"),    # emergency: no hit
        stay("S7", "P4", "2025-03-01", "2025-03-05"),
        stay("S8", "P4", "2025-03-07", "2025-03-09", dx="I10"),             # other diagnosis
        stay("S9", "P5", "2025-03-01", "2025-03-05", dx="Z51.1"),
        stay("S10", "P5", "2025-03-12", "2025-03-14", dx="Z51.1"),          # planned chemo cycle
        stay("S11", "P6", "2025-04-01", "2025-04-05", dx="J18.9"),
        stay("S12", "P6", "2025-04-05", "2025-04-09", dx="J189"),           # same code, no dot: hit
        stay("S13", "P7", "2025-03-01", "2025-03-05", institution_code="H002"),
        stay("S14", "P7", "2025-03-06", "2025-03-09", institution_code="H003"),  # other hospital
    ]
    hits = by_claim(screen(tmp_path, rows, "split_admission"))
    assert set(hits) == {"S2", "S12"}
    h = hits["S2"]
    assert h.metric == 15 and h.threshold == 15
    assert h.claim_ids == ("S1", "S2")
    assert h.lines == (2, 3)  # evidence: the first stay and the readmission
    assert h.suspected_amount == Decimal("50.00")
    assert h.detail["previous_claim"] == "S1" and h.detail["gap_days"] == 15
    assert hits["S12"].metric == 0

    rs = RuleSet(version="v-cross", parameters={"split_admission": {"same_institution": False}})
    assert set(by_claim(screen(tmp_path, rows, "split_admission", rs, "b.csv"))) == {"S2", "S12", "S14"}


# 进销存 --------------------------------------------------------------------------------------

def test_stock_mismatch(tmp_path):
    def drug(claim, item, qty, stock, date="2025-03-02"):
        return row(claim_id=claim, item_code=item, item_category="drug", drug_class="ppi",
                   quantity=qty, unit_price="10.00", stock_out_quantity=stock, service_date=date)

    rows = [
        drug("C1", "X01", 60, 60), drug("C2", "X01", 45, 40),        # 105 vs 100: exactly 5 %
        drug("C3", "X02", "105.1", 100),                              # 5.1 % more billed: hit
        drug("C4", "X03", "94.9", 100),                               # 5.1 % less billed: hit
        drug("C5", "X02", 100, 100, date="2025-04-02"),               # April is its own period
        row(claim_id="C6", item_code="X04", quantity=200),            # no stock data: ignored
    ]
    hits = screen(tmp_path, rows, "stock_mismatch")
    by_subject = {h.subject: h for h in hits}
    assert set(by_subject) == {"item:X02|2025-03", "item:X03|2025-03"}
    over = by_subject["item:X02|2025-03"]
    assert over.metric == pytest.approx(5.1) and over.threshold == 5
    assert over.suspected_amount == Decimal("51.00")  # 5.1 units x 10.00 billed, never dispensed
    assert over.claim_ids == ("C3",) and over.lines == (4,)
    assert over.claim_id is None and over.institution_code == "H001"
    under = by_subject["item:X03|2025-03"]
    assert under.suspected_amount == Decimal("0.00")  # dispensed more than billed: no fund loss


# 检查与诊断符合率 ----------------------------------------------------------------------------

def test_exam_diagnosis_mismatch(tmp_path):
    def exams(doctor, matched, unmatched, dx="J18.9"):
        out = []
        for i in range(matched):
            code = "250101001" if i % 2 else "210100001"  # routine blood test / chest X-ray
            out.append(row(claim_id=f"{doctor}-{i}", doctor_id=doctor, diagnosis_code=dx,
                           item_code=code, item_category="exam", unit_price="100.00"))
        for i in range(unmatched):
            out.append(row(claim_id=f"{doctor}-u{i}", doctor_id=doctor, diagnosis_code=dx,
                           item_code="270100001", item_category="exam", unit_price="100.00"))
        return out

    rows = (exams("D1", 8, 2)           # 80.0 %: no hit
            + exams("D2", 19, 5)        # 79.2 %: hit
            + exams("D3", 0, 9)         # 0 % but only 9 exam lines (< 10): no hit
            + exams("D4", 0, 20, dx="M54.5"))  # diagnosis without an expectation: not rated
    hits = screen(tmp_path, rows, "exam_diagnosis_mismatch")
    assert [h.doctor_id for h in hits] == ["D2"]
    h = hits[0]
    assert h.metric == pytest.approx(100 * 19 / 24) and h.threshold == 80
    assert h.suspected_amount == Decimal("500.00")  # the 5 unmatched exams
    assert len(h.evidence) == 5 and h.detail["unmatched_items"] == ["270100001"]

    # the mapping table is data: declare pathology expected for pneumonia and D2 is clean
    rs = RuleSet(version="v-map", parameters={"exam_diagnosis_mismatch": {
        "expected_exams": {"*": ["2501"], "J18": ["2101", "27"]}}})  # prefixes of any length
    assert screen(tmp_path, rows, "exam_diagnosis_mismatch", rs, "b.csv") == []


# 非必要联合用药 ------------------------------------------------------------------------------

def test_combined_drugs(tmp_path):
    def drug(claim, item, price, cls="antibiotic", dx="J18.9"):
        return row(claim_id=claim, item_code=item, item_category="drug", drug_class=cls,
                   unit_price=price, diagnosis_code=dx)

    rows = [
        drug("K1", "A1", "100.00"), drug("K1", "A2", "60.00"), drug("K1", "A3", "20.00"),  # 3: hit
        drug("K2", "A1", "100.00"), drug("K2", "A2", "60.00"),                               # 2: ok
        drug("K3", "A1", "9.00", dx="A15.0"), drug("K3", "A2", "9.00", dx="A15.0"),
        drug("K3", "A3", "9.00", dx="A15.0"),                                                # TB regimen
        drug("K4", "A1", "9.00"), drug("K4", "P1", "9.00", cls="ppi"), drug("K4", "N1", "9.00", cls="nsaid"),
        drug("K5", "A1", "9.00"), drug("K5", "A1", "9.00"), drug("K5", "A1", "9.00"),       # same drug
    ]
    hits = by_claim(screen(tmp_path, rows, "combined_drugs"))
    assert set(hits) == {"K1"}
    h = hits["K1"]
    assert h.metric == 3 and h.threshold == 2
    assert h.suspected_amount == Decimal("20.00")  # the drug beyond the second (cheapest flagged)
    assert h.detail == {"drug_class": "antibiotic", "drugs": ["A1", "A2", "A3"], "flagged_drugs": ["A3"]}
    assert h.lines == (2, 3, 4)


# 抗菌药物使用强度 ----------------------------------------------------------------------------

def test_antibiotic_intensity(tmp_path):
    def stay(claim, dept, bed_days, ddd, discharge="2025-03-20"):
        base = dict(claim_id=claim, department=dept, admit_date="2025-03-01", discharge_date=discharge,
                    bed_days=bed_days)
        return [row(**base),
                row(**base, item_code="J01", item_category="drug", drug_class="antibiotic",
                    unit_price="100.00", ddd=ddd)]

    rows = (stay("A1", "呼吸科", 60, 24) + stay("A2", "呼吸科", 40, 16)        # 40 / 100 bed days
            + stay("B1", "外科", 50, "20.05") + stay("B2", "外科", 50, "20.05")  # 40.1 / 100 bed days
            + stay("C1", "外科", 10, 1, discharge="2025-04-02"))                # April: own period
    hits = screen(tmp_path, rows, "antibiotic_intensity")
    assert [(h.department, h.subject) for h in hits] == [("外科", "dept:外科|2025-03")]
    h = hits[0]
    assert h.metric == pytest.approx(40.1) and h.threshold == 40
    assert h.claim_ids == ("B1", "B2") and h.lines == (7, 9)  # the antibiotic lines
    assert h.suspected_amount == Decimal("0.50")  # 200.00 x (40.1 - 40) / 40.1


# 病历修改 ------------------------------------------------------------------------------------

def test_record_edits(tmp_path):
    rows = [
        row(claim_id="R1", record_edits=3, record_edit_reasoned="false"),  # exactly 3: no hit
        row(claim_id="R2", record_edits=4),                                 # reason not recorded: hit
        row(claim_id="R3", record_edits=4, record_edit_reasoned="true"),   # reasoned: no hit
        row(claim_id="R4", record_edits=5, record_edit_reasoned="否"),
    ]
    hits = by_claim(screen(tmp_path, rows, "record_edits"))
    assert set(hits) == {"R2", "R4"}
    assert hits["R4"].metric == 5 and hits["R4"].threshold == 3
    assert get_rule("record_edits").legal_hook == "条例第40条第一款第(二)项"


# 重复收费 ------------------------------------------------------------------------------------

def test_duplicate_charge(tmp_path):
    inj = dict(item_code="120400001", item_category="service", unit_price="12.50")
    rows = [
        row(claim_id="D1", service_date="2025-03-02", **inj),
        row(claim_id="D1", service_date="2025-03-02", **inj),               # same item, same day: hit
        row(claim_id="D1", service_date="2025-03-02", **inj),               # third copy
        row(claim_id="D2", service_date="2025-03-02", **inj),
        row(claim_id="D2", service_date="2025-03-03", **inj),               # next day: no hit
        row(claim_id="D3", service_date="2025-03-02", quantity=1, **inj),
        row(claim_id="D3", service_date="2025-03-02", quantity=2, **inj),   # other quantity: no hit
        row(claim_id="D4", service_date="2025-03-02", **inj),
    ]
    hits = by_claim(screen(tmp_path, rows, "duplicate_charge"))
    assert set(hits) == {"D1"}
    assert hits["D1"].metric == 3
    assert hits["D1"].suspected_amount == Decimal("25.00")  # two extra copies
    assert hits["D1"].lines == (2, 3, 4)


# 超标准收费 ----------------------------------------------------------------------------------

def test_over_standard_quantity(tmp_path):
    inj = dict(item_code="120400001", item_category="service", unit_price="12.50",
               service_date="2025-03-02")
    rows = [
        row(claim_id="O1", quantity=4, **inj),                              # exactly the max (4/day)
        row(claim_id="O2", quantity=3, **inj), row(claim_id="O2", quantity=2, **inj),  # 5 split: hit
        row(claim_id="O3", quantity=3, **inj),
        row(claim_id="O3", quantity=3, **{**inj, "service_date": "2025-03-03"}),  # per day: fine
    ]
    hits = by_claim(screen(tmp_path, rows, "over_standard_quantity"))
    assert set(hits) == {"O2"}
    assert hits["O2"].metric == 5 and hits["O2"].threshold == 4
    assert hits["O2"].suspected_amount == Decimal("12.50")
    assert hits["O2"].lines == (3, 4)


# 性别 / 年龄限定 -----------------------------------------------------------------------------

def test_gender_mismatch(tmp_path):
    gyn = dict(item_code="311201001", item_category="exam", unit_price="30.00")
    rows = [row(claim_id="G1", gender="M", **gyn),   # female-only exam for a man: hit
            row(claim_id="G2", gender="F", **gyn),
            row(claim_id="G3", gender="U", **gyn)]   # gender unknown: not judged
    hits = by_claim(screen(tmp_path, rows, "gender_mismatch"))
    assert set(hits) == {"G1"}
    assert hits["G1"].suspected_amount == Decimal("30.00")
    assert hits["G1"].detail["allowed_sex"] == ["F"]

    rs = RuleSet(version="v-sex", parameters={"gender_mismatch": {"items": {"311201001": "M"}}})
    assert set(by_claim(screen(tmp_path, rows, "gender_mismatch", rs, "b.csv"))) == {"G2"}


def test_age_mismatch(tmp_path):
    child = dict(item_code="311400001", item_category="service", unit_price="20.00")  # age <= 14
    elder = dict(item_code="311500001", item_category="service", unit_price="20.00")  # age >= 60
    rows = [row(claim_id="Y1", age=14, **child),   # at the limit: no hit
            row(claim_id="Y2", age=15, **child),   # hit
            row(claim_id="Y3", age=59, **elder),   # hit
            row(claim_id="Y4", age=60, **elder),
            row(claim_id="Y5", age="", **child)]   # age unknown: not judged
    hits = by_claim(screen(tmp_path, rows, "age_mismatch"))
    assert set(hits) == {"Y2", "Y3"}
    assert hits["Y2"].metric == 15 and hits["Y2"].suspected_amount == Decimal("20.00")


# DRG 高套 ------------------------------------------------------------------------------------

def test_drg_upcoding(tmp_path):
    rows = [row(claim_id="W1", diagnosis_code="J18.9", drg_group="ES31", drg_weight="0.90"),  # = expected
            row(claim_id="W2", diagnosis_code="J18.9", drg_group="ES21", drg_weight="0.9001"),  # above: hit
            row(claim_id="W3", diagnosis_code="J18.0", drg_group="ES21", drg_weight="1.20"),    # hit
            row(claim_id="W4", diagnosis_code="M54.5", drg_group="IU29", drg_weight="3.00")]    # no reference
    hits = by_claim(screen(tmp_path, rows, "drg_upcoding"))
    assert set(hits) == {"W2", "W3"}
    assert hits["W2"].suspected_amount == Decimal("1.00")      # 0.0001 x 10,000 元 base rate
    assert hits["W3"].suspected_amount == Decimal("3000.00")
    assert hits["W3"].metric == pytest.approx(1.2) and hits["W3"].threshold == pytest.approx(0.9)

    rs = RuleSet(version="v-tol", parameters={"drg_upcoding": {"tolerance_pct": 10, "base_rate_yuan": 8000}})
    hits = by_claim(screen(tmp_path, rows, "drg_upcoding", rs, "b.csv"))
    assert set(hits) == {"W3"}  # 0.9001 is within 10 %, 1.20 is not
    assert hits["W3"].suspected_amount == Decimal("2400.00")
