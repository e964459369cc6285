"""Screening runs (reproducibility, recorded versions), rule-set versioning, review sampling."""
from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import pytest

from fundguard_inspection.screening import (DEFAULT_REVIEW_RATIOS, RULE_IDS, RuleSet, RuleSetError,
                                            connect, data_hash, import_claims, list_rulesets, load_hits,
                                            load_institution_levels, load_run, load_ruleset,
                                            normalise_level, run_screening, sample_for_review,
                                            save_review_sample, save_ruleset)
from fundguard_inspection.screening import rules as rules_mod
from fundguard_inspection.screening.samples import row, write_claims_csv
from fundguard_inspection.screening.synthetic import generate_claims, institution_levels


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "claims.csv"
    return generate_claims(path, rows=40_000, seed=11)


# Small synthetic data: doctors have few exam lines, so lower the minimum sample for the test.
RS = RuleSet(version="test-1", area_code="510100",
             parameters={"exam_diagnosis_mismatch": {"min_exam_lines": 3}})


def _hits_without_run_id(hits):
    return [replace(h, run_id="") for h in hits]


def test_screening_run_reproducible_same_data_same_rule_version(tmp_path, synthetic_csv):
    conn = connect(tmp_path / "a.duckdb", memory_limit="512MB", threads=2)
    import_claims(synthetic_csv, conn)
    r1 = run_screening(conn, RS)
    r2 = run_screening(conn, RS)
    assert r1.run_id != r2.run_id
    assert r1.hits_digest == r2.hits_digest
    assert r1.hits_per_rule == r2.hits_per_rule
    assert r1.suspected_amount_per_rule == r2.suspected_amount_per_rule
    assert _hits_without_run_id(load_hits(conn, r1.run_id)) == _hits_without_run_id(load_hits(conn, r2.run_id))

    # another database that imported the same file gives the same hits, evidence included
    other = connect(tmp_path / "b.duckdb", memory_limit="512MB", threads=1)
    import_claims(synthetic_csv, other)
    r3 = run_screening(other, RuleSet.from_dict(RS.to_dict()))
    assert (r3.data_hash, r3.params_hash, r3.hits_digest) == (r1.data_hash, r1.params_hash, r1.hits_digest)

    # other parameters: another hash and other hits
    stricter = RS.derive("test-2", {"hanging_bed": {"min_presence_hours": 10}})
    r4 = run_screening(conn, stricter)
    assert r4.params_hash != r1.params_hash
    assert r4.hits_per_rule["hanging_bed"] > r1.hits_per_rule["hanging_bed"]
    assert r4.hits_digest != r1.hits_digest
    conn.close()
    other.close()


def test_screening_run_records_rule_version_parameter_hash_and_data_hash(tmp_path):
    conn = connect(memory_limit="256MB", threads=1)
    p1 = write_claims_csv(tmp_path / "a.csv", [row(claim_id="A", presence_hours=3)])
    p2 = write_claims_csv(tmp_path / "b.csv", [row(claim_id="B", record_edits=9)])
    shas = sorted(import_claims(p, conn).file_sha256 for p in (p1, p2))
    result = run_screening(conn, RS)
    assert result.data_hash == hashlib.sha256("\n".join(shas).encode()).hexdigest() == data_hash(conn)
    assert result.ruleset_version == "test-1" and result.area_code == "510100"
    assert result.params_hash == RS.params_hash and len(result.params_hash) == 64
    assert result.rules == RULE_IDS and result.rows_screened == 2
    assert result.hits_per_rule["hanging_bed"] == 1 and result.hits_per_rule["record_edits"] == 1
    assert result.total_hits == sum(result.hits_per_rule.values())
    stored = load_run(conn, result.run_id)
    assert stored["ruleset_version"] == "test-1" and stored["params_hash"] == RS.params_hash
    assert stored["data_hash"] == result.data_hash and stored["hits_digest"] == result.hits_digest
    assert stored["hits_per_rule"] == result.hits_per_rule
    # evidence names the file (import id) and its physical line
    (hit,) = load_hits(conn, result.run_id, "record_edits")
    assert hit.evidence == ((shas_for(conn, "b.csv"), 2),)
    conn.close()


def shas_for(conn, filename):
    return conn.execute("SELECT import_id FROM claim_imports WHERE filename = ?", [filename]).fetchone()[0]


def test_screening_run_selected_rules_only_and_unknown_rule_refused(tmp_path):
    conn = connect(memory_limit="256MB", threads=1)
    import_claims(write_claims_csv(tmp_path / "a.csv", [row(presence_hours=1, record_edits=9)]), conn)
    result = run_screening(conn, RS, rules=["record_edits", "hanging_bed"])
    assert result.rules == ("hanging_bed", "record_edits")  # catalogue order
    assert set(result.hits_per_rule) == {"hanging_bed", "record_edits"}
    with pytest.raises(RuleSetError) as exc:
        run_screening(conn, RS, rules=["no_such_rule"])
    assert exc.value.code == "rule_unknown"
    disabled = RS.derive("test-off", disabled=("hanging_bed",))
    assert "hanging_bed" not in run_screening(conn, disabled).hits_per_rule


def test_screening_run_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    conn = connect(memory_limit="256MB", threads=1)
    import_claims(write_claims_csv(tmp_path / "a.csv", [row(presence_hours=1)]), conn)
    broken = replace(rules_mod.get_rule("record_edits"), build=lambda p: "SELECT * FROM no_such_table")
    monkeypatch.setitem(rules_mod._BY_ID, "record_edits", broken)
    with pytest.raises(Exception):
        run_screening(conn, RS)
    assert conn.execute("SELECT count(*) FROM screening_runs").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM screening_hits").fetchone()[0] == 0


def test_screening_synthetic_data_hits_every_rule(tmp_path, synthetic_csv):
    conn = connect(memory_limit="512MB", threads=2)
    rep = import_claims(synthetic_csv, conn)
    assert rep.rows_loaded == 40_000 and rep.rows_rejected == 0
    result = run_screening(conn, RS)
    assert all(result.hits_per_rule[r] > 0 for r in RULE_IDS), result.hits_per_rule
    conn.close()


# rule sets -----------------------------------------------------------------------------------

def test_screening_ruleset_versions_per_pooling_area(tmp_path):
    conn = connect(memory_limit="256MB", threads=1)
    base = RuleSet.default(area_code="510100")
    v2 = base.derive("510100-2026.2", {"split_admission": {"max_gap_days": 30}})
    assert v2.params("split_admission")["max_gap_days"] == 30
    assert base.params("split_admission")["max_gap_days"] == 15
    assert v2.params_hash != base.params_hash
    assert save_ruleset(conn, base) is True
    assert save_ruleset(conn, base) is False  # identical: nothing to do
    assert save_ruleset(conn, v2) is True
    assert load_ruleset(conn, "510100", "510100-2026.2").params_hash == v2.params_hash
    assert load_ruleset(conn, "510100").version == "510100-2026.2"  # latest
    # a published version is immutable
    with pytest.raises(RuleSetError) as exc:
        save_ruleset(conn, RuleSet(version="510100-2026.2", area_code="510100",
                                   parameters={"split_admission": {"max_gap_days": 31}}))
    assert exc.value.code == "ruleset_version_conflict"
    # the same version label in another area is another rule set
    assert save_ruleset(conn, replace_area(v2, "440100")) is True
    assert [r["area_code"] for r in list_rulesets(conn)] == ["440100", "510100", "510100"]
    with pytest.raises(RuleSetError) as exc:
        load_ruleset(conn, "999999")
    assert exc.value.code == "ruleset_not_found"


def replace_area(rs, area):
    return RuleSet(version=rs.version, area_code=area, parameters=rs.parameters)


@pytest.mark.parametrize("parameters, code", [
    ({"no_such_rule": {}}, "rule_unknown"),
    ({"hanging_bed": {"min_hours": 5}}, "rule_param_unknown"),
    ({"hanging_bed": {"min_presence_hours": "6"}}, "rule_param_invalid"),
    ({"hanging_bed": {"min_presence_hours": -1}}, "rule_param_invalid"),
    ({"split_admission": {"max_gap_days": 15.5}}, "rule_param_invalid"),
    ({"split_admission": {"same_institution": "yes"}}, "rule_param_invalid"),
    ({"stock_mismatch": {"period": "week"}}, "rule_param_invalid"),
    ({"gender_mismatch": {"items": {"X": "other"}}}, "rule_param_invalid"),
    ({"age_mismatch": {"items": {"X": [20, 10]}}}, "rule_param_invalid"),
    ({"exam_diagnosis_mismatch": {"expected_exams": {"J18.9": ["2101"]}}}, "rule_param_invalid"),
])
def test_screening_ruleset_rejects_invalid_parameters(parameters, code):
    with pytest.raises(RuleSetError) as exc:
        RuleSet(version="v", parameters=parameters)
    assert exc.value.code == code


def test_screening_ruleset_round_trip_and_hash_check():
    rs = RuleSet(version="v9", area_code="110100", parameters={"record_edits": {"max_edits_without_reason": 5}})
    again = RuleSet.from_dict(rs.to_dict())
    assert again == rs and again.params_hash == rs.params_hash
    tampered = rs.to_dict()
    tampered["parameters"]["record_edits"]["max_edits_without_reason"] = 6
    with pytest.raises(RuleSetError) as exc:
        RuleSet.from_dict(tampered)
    assert exc.value.code == "ruleset_hash_mismatch"


# review sampling -----------------------------------------------------------------------------

def _fake_hits(n_per_inst):
    hits = []
    for inst, n in n_per_inst.items():
        for i in range(n):
            hits.append({"hit_id": f"{inst}-{i:03d}", "rule_id": "hanging_bed", "institution_code": inst})
    return hits


def test_screening_sample_for_review_ratios_by_institution_level():
    hits = _fake_hits({"H1": 10, "H2": 10, "H3": 10, "H4": 7})
    levels = {"H1": "三级甲等", "H2": "乡镇卫生院", "H3": "定点零售药店"}  # H4 unknown
    s = sample_for_review(hits, levels, seed=20260301)
    strata = {x["level"]: (x["population"], x["sampled"]) for x in s.strata}
    assert strata == {"secondary_plus": (10, 5), "primary": (10, 3), "pharmacy": (10, 3),  # ceil(2.5)
                      "unknown": (7, 4)}  # unknown level: highest ratio (50 %), ceil(3.5)
    assert s.unknown_institutions == ["H4"]
    assert s.seed == 20260301 and s.ratios == DEFAULT_REVIEW_RATIOS
    assert len(s.hit_ids) == 15 == len(set(s.hit_ids))
    # reproducible from the recorded seed, different with another seed
    assert sample_for_review(hits, levels, seed=20260301).hit_ids == s.hit_ids
    assert sample_for_review(hits, levels, seed=1).hit_ids != s.hit_ids
    # "不低于": a ratio that does not divide evenly rounds up (exact arithmetic, no float drift)
    odd = sample_for_review(_fake_hits({"H2": 7}), levels, ratios={"primary": 0.7}, seed=5)
    assert odd.strata[0]["sampled"] == math.ceil(0.7 * 7) == 5
    assert 0.07 * 100 > 7  # float drift ...
    assert sample_for_review(_fake_hits({"H2": 100}), levels, ratios={"primary": 0.07},
                             seed=5).strata[0]["sampled"] == 7  # ... does not add a sample


def test_screening_sample_for_review_records_seed_and_custom_ratios(tmp_path, synthetic_csv):
    conn = connect(memory_limit="512MB", threads=2)
    import_claims(synthetic_csv, conn, known_institutions=institution_levels())
    result = run_screening(conn, RS, rules=["record_edits", "drg_upcoding"])
    hits = load_hits(conn, result.run_id)
    s = sample_for_review(hits, load_institution_levels(conn))  # no seed given: one is drawn
    assert isinstance(s.seed, int) and s.unknown_institutions == []
    again = sample_for_review(hits, load_institution_levels(conn), seed=s.seed)
    assert again.hit_ids == s.hit_ids
    sample_id = save_review_sample(conn, result.run_id, s)
    seed, ids = conn.execute("SELECT seed, hit_ids FROM review_samples WHERE sample_id = ?",
                             [sample_id]).fetchone()
    assert seed == s.seed and ids == s.hit_ids
    everything = sample_for_review(hits, load_institution_levels(conn),
                                   ratios={"secondary_plus": 1, "primary": 1, "pharmacy": 1}, seed=3)
    assert len(everything.selected) == len(hits)
    with pytest.raises(ValueError):
        sample_for_review(hits, {}, ratios={"primary": 1.5})
    conn.close()


def test_screening_normalise_level_aliases():
    assert normalise_level("二级及以上") == normalise_level("三级") == "secondary_plus"
    assert normalise_level("基层") == normalise_level("社区卫生服务中心") == "primary"
    assert normalise_level("零售药店") == normalise_level("pharmacy") == "pharmacy"
    assert normalise_level("宠物医院") == normalise_level(None) == "unknown"
