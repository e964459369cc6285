"""Claims screening (智能监控筛查) on DuckDB: settlement-record import, versioned rules, runs.

No Flask here: the inspection service's HTTP API and CLI call these functions.

    conn = connect("screening.duckdb")
    report = import_claims("jiesuan_2025-03.csv", conn, known_institutions={"H0001": "二级及以上"})
    result = run_screening(conn, RuleSet.default(area_code="510100"))
    hits = load_hits(conn, result.run_id)
    sample = sample_for_review(hits, load_institution_levels(conn), seed=20250301)
"""
from .claims import (COLUMNS, COLUMN_NAMES, REQUIRED_COLUMNS, ROW_ERROR_MESSAGES, ClaimsImportError,
                     ImportReport, RowError, connect, ensure_schema, import_claims,
                     load_institution_levels)
from .rules import (DEFAULT_RULESET_VERSION, ENGINE_VERSION, RULE_IDS, RULES, Rule, RuleSet,
                    RuleSetError, get_rule, list_rulesets, load_ruleset, save_ruleset)
from .run import (DEFAULT_REVIEW_RATIOS, Hit, ReviewSample, RunResult, data_hash, load_hits, load_run,
                  normalise_level, run_screening, sample_for_review, save_review_sample)

__all__ = [
    "COLUMNS", "COLUMN_NAMES", "REQUIRED_COLUMNS", "ROW_ERROR_MESSAGES", "ClaimsImportError",
    "ImportReport", "RowError", "connect", "ensure_schema", "import_claims",
    "load_institution_levels",
    "DEFAULT_RULESET_VERSION", "ENGINE_VERSION", "RULE_IDS", "RULES", "Rule", "RuleSet",
    "RuleSetError", "get_rule", "list_rulesets", "load_ruleset", "save_ruleset",
    "DEFAULT_REVIEW_RATIOS", "Hit", "ReviewSample", "RunResult", "data_hash", "load_hits",
    "load_run", "normalise_level", "run_screening", "sample_for_review", "save_review_sample",
]
