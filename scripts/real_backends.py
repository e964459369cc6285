"""Are PostgreSQL and RabbitMQ reachable? (used by scripts/test.sh and .ci/run)

--check   exit 0 when both answer
--ensure  try to start the local servers first (as on the development machines), then check
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

PG_URL = os.environ.get("FUNDGUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("FUNDGUARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def pg_ok() -> bool:
    try:
        import psycopg
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def amqp_ok() -> bool:
    try:
        from kombu import Connection
        with Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def ensure() -> None:
    if not pg_ok() and os.path.isdir("/etc/postgresql"):
        versions = os.listdir("/etc/postgresql")
        if versions:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main",
                            "start"], check=False)
    if not amqp_ok():
        subprocess.run(["rabbitmq-server", "-detached"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(60):
        if pg_ok() and amqp_ok():
            return
        time.sleep(1)


if __name__ == "__main__":
    if "--ensure" in sys.argv:
        ensure()
    ok_pg, ok_amqp = pg_ok(), amqp_ok()
    if not (ok_pg and ok_amqp):
        print(f"postgresql: {'ok' if ok_pg else 'unreachable'}, "
              f"rabbitmq: {'ok' if ok_amqp else 'unreachable'}", file=sys.stderr)
    sys.exit(0 if ok_pg and ok_amqp else 1)
