"""Benchmark: settlement import + all screening rules on synthetic claims (DuckDB).

    .venv/bin/python bench/bench_screening.py              # 1,000,000 rows
    .venv/bin/python bench/bench_screening.py --rows 200000 --parquet

Steps: generate synthetic claims into a CSV (and Parquet with --parquet) in a child process (so
generation memory does not count), import the CSV into a DuckDB file, time a plain scan of the
same data by the same engine (SELECT count(*), sum(amount) FROM claims), run all rules, print
rows/s, seconds, CPU seconds, peak RSS, hits per rule, and the screening / plain-scan ratio.

Target: 1,000,000 rows screened by all rules in <= 10 s and <= 1 GB peak memory on the 2-core
machine (DuckDB capped with --threads and --memory-limit). Wall-clock numbers depend on the
machine's load, so the load average is printed beside them. Never used as a timed test.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "inspection"))

from fundguard_inspection.screening import RULE_IDS, RuleSet, connect, import_claims, run_screening  # noqa: E402
from fundguard_inspection.screening.synthetic import generate_claims  # noqa: E402

TARGET_SECONDS = 10.0
TARGET_RSS_BYTES = 1 << 30


class PeakRss:
    """Samples this process's RSS every 5 ms (psutil), so a phase's peak can be read."""

    def __init__(self) -> None:
        self.proc = psutil.Process() if psutil else None
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.005)

    def sample(self) -> int:
        if self.proc is not None:
            rss = self.proc.memory_info().rss
            self.peak = max(self.peak, rss)
            return rss
        return 0

    def reset(self) -> None:
        self.peak = self.sample()

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def mb(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MB"


class Timer:
    def __enter__(self) -> Timer:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


def generate(args, workdir: Path) -> tuple[Path, Path | None]:
    csv_path = workdir / f"claims_{args.rows}.csv"
    pq_path = workdir / f"claims_{args.rows}.parquet" if args.parquet else None
    cmd = [sys.executable, __file__, "--generate-only", "--rows", str(args.rows), "--seed", str(args.seed),
           "--workdir", str(workdir)] + (["--parquet"] if args.parquet else [])
    subprocess.run(cmd, check=True)
    return csv_path, pq_path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="768MB", help="DuckDB buffer-pool cap")
    ap.add_argument("--workdir", default=None, help="where the files and the DuckDB database go")
    ap.add_argument("--parquet", action="store_true", help="also generate and import a Parquet copy")
    ap.add_argument("--scan-repeats", type=int, default=5)
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    tmp = None
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="fg_bench_")
        workdir = Path(tmp.name)

    if args.generate_only:
        with Timer() as t:
            generate_claims(workdir / f"claims_{args.rows}.csv", args.rows, seed=args.seed)
            if args.parquet:
                generate_claims(workdir / f"claims_{args.rows}.parquet", args.rows, seed=args.seed,
                                fmt="parquet")
        print(f"generated {args.rows:,} rows in {t.wall:.2f} s (child process)")
        return 0

    try:
        print(f"fundguard screening bench: {args.rows:,} rows, DuckDB threads={args.threads}, "
              f"memory_limit={args.memory_limit}, cpus={os.cpu_count()}")
        csv_path, pq_path = generate(args, workdir)
        print(f"CSV: {csv_path.stat().st_size / (1 << 20):,.0f} MB")
        load_before = os.getloadavg()

        with PeakRss() as peak:
            db = workdir / "bench.duckdb"
            for suffix in ("", ".wal"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            conn = connect(db, memory_limit=args.memory_limit, threads=args.threads,
                           temp_directory=str(workdir / "duckdb_tmp"))
            base_rss = peak.sample()

            with Timer() as t_imp:
                rep = import_claims(csv_path, conn)
            imp_peak = peak.peak
            assert rep.rows_loaded == args.rows, rep.message_en

            # plain scan by the same engine, same data (best of N, data already in the buffer pool)
            scans = []
            for _ in range(max(1, args.scan_repeats)):
                with Timer() as t:
                    conn.execute("SELECT count(*), sum(amount) FROM claims").fetchall()
                scans.append(t.wall)
            scan_s = min(scans)
            # a second reference point: one aggregation of every line into its claim
            groups = []
            for _ in range(max(1, args.scan_repeats // 2)):
                with Timer() as t:
                    conn.execute("SELECT count(*) FROM (SELECT institution_code, claim_id, sum(amount) "
                                 "FROM claims GROUP BY ALL)").fetchall()
                groups.append(t.wall)
            group_s = min(groups)

            peak.reset()
            with Timer() as t_run:
                result = run_screening(conn, RuleSet.default())
            run_peak = peak.peak
            conn.close()

            pq_line = None
            if pq_path is not None:
                peak.reset()
                pdb = workdir / "bench_parquet.duckdb"
                Path(pdb).unlink(missing_ok=True)
                pconn = connect(pdb, memory_limit=args.memory_limit, threads=args.threads)
                with Timer() as t_pq:
                    prep = import_claims(pq_path, pconn)
                pconn.close()
                pq_line = (f"import Parquet  : {t_pq.wall:6.2f} s  {prep.rows_loaded / t_pq.wall:12,.0f} rows/s  "
                           f"peak RSS {mb(peak.peak)}  ({pq_path.stat().st_size / (1 << 20):,.0f} MB file)")
        ru_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        load_after = os.getloadavg()

        n = args.rows
        print()
        print(f"import CSV      : {t_imp.wall:6.2f} s  {n / t_imp.wall:12,.0f} rows/s  "
              f"(CPU {t_imp.cpu:.2f} s)  peak RSS {mb(imp_peak)}")
        if pq_line:
            print(pq_line)
        print(f"plain scan      : {scan_s * 1000:6.1f} ms  {n / scan_s:12,.0f} rows/s  "
              f"(SELECT count(*), sum(amount) FROM claims, best of {len(scans)})")
        print(f"screening       : {t_run.wall:6.2f} s  {n / t_run.wall:12,.0f} rows/s  "
              f"(CPU {t_run.cpu:.2f} s, {len(result.rules)} rules)  peak RSS {mb(run_peak)}")
        print(f"group-by-claim  : {group_s * 1000:6.1f} ms  (one GROUP BY institution_code, claim_id pass)")
        print(f"screening / plain scan = {t_run.wall / scan_s:,.0f}x   "
              f"screening / group-by-claim = {t_run.wall / group_s:,.1f}x")
        print(f"import + screening     = {t_imp.wall + t_run.wall:.2f} s")
        print(f"peak RSS (whole run)   = {mb(max(ru_peak, imp_peak, run_peak))}  "
              f"(ru_maxrss {mb(ru_peak)}, sampled {mb(max(imp_peak, run_peak))}, after connect {mb(base_rss)})")
        print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}  "
              "(other processes on the machine slow the wall-clock figures)")
        print()
        print(f"{'rule':<26}{'hits':>8}{'suspected 元':>16}{'seconds':>10}")
        for rid in RULE_IDS:
            print(f"{rid:<26}{result.hits_per_rule.get(rid, 0):>8,}"
                  f"{result.suspected_amount_per_rule.get(rid, 0):>16,.2f}"
                  f"{result.rule_elapsed_s.get(rid, 0):>10.3f}")
        print(f"{'total':<26}{result.total_hits:>8,}")
        print(f"run {result.run_id}  rules {result.ruleset_version}  params {result.params_hash[:12]}  "
              f"data {result.data_hash[:12]}  digest {result.hits_digest[:12]}")
        print()
        peak_all = max(ru_peak, imp_peak, run_peak)
        ok_time = t_run.wall <= TARGET_SECONDS
        ok_mem = peak_all <= TARGET_RSS_BYTES
        verdict = "MET" if ok_time and ok_mem else "NOT MET"
        print(f"target ({n:,} rows, all rules <= {TARGET_SECONDS:.0f} s, peak <= 1 GB): {verdict}  "
              f"[screening {t_run.wall:.2f} s {'ok' if ok_time else 'too slow'}, "
              f"peak {mb(peak_all)} {'ok' if ok_mem else 'too much'}; "
              f"import + screening {t_imp.wall + t_run.wall:.2f} s "
              f"{'also within' if t_imp.wall + t_run.wall <= TARGET_SECONDS else 'over'} {TARGET_SECONDS:.0f} s]")
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
