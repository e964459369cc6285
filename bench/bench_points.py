"""In-process benchmark of the payment-qualification check (``points.ledger.check_raw``, what
``GET /api/v1/persons/check`` runs; ``ledger.check`` is the same query through SQLAlchemy Core) over N people (default 1,000,000) in a temporary SQLite file
migrated to head, against a bare indexed SELECT on the same table (raw sqlite3) and the check's
own JOIN through raw sqlite3 (what SQLAlchemy Core adds vs what the query costs). A share of the
people carry a suspension or a termination so the LEFT JOIN finds rows. Prints figures and one
JSON line; the target is ≥ 5,000 checks/s.

    .venv/bin/python bench/bench_points.py [--people 1000000] [--seconds 3] [--http]

--http adds the endpoint through Flask's test client (JWT, schema, problem+json) — informational.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine

from fundguard_shared.migrate import upgrade

KEY = b"bench-person-id-key-0123456789abcdef"


def _populate(path: str, n: int, restricted_share: float) -> list[str]:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    hashes, batch, restrictions = [], [], []
    now = "2026-01-01 00:00:00.000000+00:00"
    rnd = random.Random(7)
    for i in range(n):
        h = hmac.new(KEY, f"{110101190000000000 + i}".encode(), hashlib.sha256).hexdigest()
        pid = str(uuid.UUID(int=rnd.getrandbits(128)))
        hashes.append(h)
        batch.append((pid, h, "physician", f"H{i % 50000:07d}", "510100", now))
        if rnd.random() < restricted_share:
            if rnd.random() < 0.8:
                restrictions.append((pid, "suspension", "2026-03-01", "2026-06-01", None, i, 0))
            else:
                restrictions.append((pid, "termination", "2026-03-01", None, "2027-03-01", i, 0))
        if len(batch) == 50_000:
            con.executemany("INSERT INTO persons (id, id_hash, profession, institution_id, region, registered_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", batch)
            batch.clear()
    if batch:
        con.executemany("INSERT INTO persons (id, id_hash, profession, institution_id, region, registered_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", batch)
    con.executemany("INSERT INTO person_restrictions (person_id, kind, starts_on, ends_on, ban_until, entry_id, "
                    "needs_decision) VALUES (?, ?, ?, ?, ?, ?, ?)", restrictions)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return hashes


def _rate(fn, probes: list[str], seconds: float) -> tuple[float, int]:
    n, i, start = 0, 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(500):
            fn(probes[i])
            i = (i + 1) % len(probes)
        n += 500
        if time.perf_counter() >= deadline:
            return n / (time.perf_counter() - start), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--restricted", type=float, default=0.05)
    ap.add_argument("--http", action="store_true")
    args = ap.parse_args()

    from fundguard_cases.points import ledger

    tmp = tempfile.mkdtemp(prefix="bench-points-")
    path = str(Path(tmp) / "cases.db")
    t0 = time.perf_counter()
    upgrade("fundguard_cases", f"sqlite:///{path}")
    hashes = _populate(path, args.people, args.restricted)
    print(f"populated {args.people:,} people in {time.perf_counter() - t0:.1f}s ({path})", file=sys.stderr)

    rnd = random.Random(11)
    probes = [rnd.choice(hashes) for _ in range(20_000)]
    probes += ["0" * 64] * 200  # unknown people too
    rnd.shuffle(probes)
    on = date(2026, 4, 1)

    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        verdicts = {}
        for h in probes[:2000]:
            r = ledger.check(conn, h, on)["reason"]
            verdicts[r] = verdicts.get(r, 0) + 1
        check_rate, check_n = _rate(lambda h: ledger.check(conn, h, on), probes, args.seconds)
        raw_conn = engine.raw_connection()
        assert all(ledger.check_raw(raw_conn.driver_connection, "qmark", h, on) == ledger.check(conn, h, on)
                   for h in probes[:2000]), "check_raw and check disagree"
    fast_rate, fast_n = _rate(lambda h: ledger.check_raw(raw_conn.driver_connection, "qmark", h, on), probes,
                              args.seconds)
    raw_conn.close()

    raw = sqlite3.connect(path)
    cur = raw.cursor()
    sql = "SELECT id FROM persons WHERE id_hash = ?"
    bare_rate, bare_n = _rate(lambda h: cur.execute(sql, (h,)).fetchone(), probes, args.seconds)
    join = ("SELECT p.id, r.kind, r.ends_on, r.ban_until FROM persons p LEFT JOIN person_restrictions r "
            "ON r.person_id = p.id AND r.starts_on <= ? AND (r.ends_on IS NULL OR r.ends_on > ?) WHERE p.id_hash = ?")
    d = on.isoformat()
    join_rate, _ = _rate(lambda h: cur.execute(join, (d, d, h)).fetchall(), probes, args.seconds)
    raw.close()
    engine.dispose()

    result = {"people": args.people, "checks_per_s": round(fast_rate), "checks": fast_n,
              "core_checks_per_s": round(check_rate),
              "bare_select_per_s": round(bare_rate),
              "raw_join_per_s": round(join_rate), "ratio_check_to_bare": round(fast_rate / bare_rate, 3),
              "target_checks_per_s": 5000, "met": fast_rate >= 5000, "sample_verdicts": verdicts}

    if args.http:
        result["http_per_s"] = round(_http(path, probes, args.seconds, tmp))

    print(f"{'check (ledger.check_raw, DB-API: the endpoint)':<44}{fast_rate:>12,.0f} /s")
    print(f"{'check (ledger.check, SQLAlchemy Core)':<44}{check_rate:>12,.0f} /s")
    print(f"{'bare indexed SELECT (sqlite3)':<44}{bare_rate:>12,.0f} /s")
    print(f"{'same JOIN as check, raw sqlite3':<44}{join_rate:>12,.0f} /s")
    print(f"{'ratio check_raw / bare':<44}{fast_rate / bare_rate:>12.3f}")
    if args.http:
        print(f"{'GET /api/v1/persons/check (test client)':<44}{result['http_per_s']:>12,} /s")
    print(json.dumps(result, ensure_ascii=False))
    shutil.rmtree(tmp, ignore_errors=True)


def _http(path: str, probes: list[str], seconds: float, tmp: str) -> float:
    from fundguard_shared.auth import Principal, issue_token
    os.environ.update({"CASES_DATABASE_URL": f"sqlite:///{path}", "FUNDGUARD_JWT_SECRET": "bench-secret-0123456789abcdef-xyz",
                       "BROKER_URL": f"fgsqlite:///{tmp}/bus.db", "FUNDGUARD_VAR_DIR": tmp})
    from fundguard_cases import runtime
    from fundguard_cases.app import create_app
    runtime.runtime.cache_clear()
    client = create_app().test_client()
    tok = issue_token(Principal("bench", "leader", region="510100"), os.environ["FUNDGUARD_JWT_SECRET"],
                      "fundguard-dev", "fundguard")
    headers = {"Authorization": f"Bearer {tok}"}
    rate, _ = _rate(lambda h: client.get(f"/api/v1/persons/check?id_hash={h}&date=2026-04-01", headers=headers),
                    probes, seconds)
    return rate


if __name__ == "__main__":
    main()
