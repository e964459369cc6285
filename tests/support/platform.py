"""Start the whole platform (3 gunicorn web services + 3 workers) for tests and benchmarks, on
the embedded default or on PostgreSQL + RabbitMQ, isolated per run:

* embedded: a fresh directory of SQLite files and bus file;
* real: databases ``fgt_<run>_<service>`` and an exchange/queue prefix ``fgt_<run>``, all
  dropped / deleted at teardown, so nothing leaks into a later run.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("inspection", "cases", "notify")
PG_ADMIN_URL = os.environ.get("FUNDGUARD_TEST_PG_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("FUNDGUARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")

sys.path.insert(0, str(ROOT / "shared"))
from fundguard_shared.auth import Principal, issue_token  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class Platform:
    def __init__(self, backend: str, workdir: Path, web_workers: int = 1,
                 broker_proxy: bool = False):
        self.backend = backend
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.run_id = "fgt_" + uuid.uuid4().hex[:10]
        self.secret = secrets.token_urlsafe(32)
        self.ports = {s: free_port() for s in SERVICES}
        self.procs: dict[str, subprocess.Popen] = {}
        self.proxy = None
        self.db_urls: dict[str, str] = {}
        env = dict(os.environ)
        env.update({
            "FUNDGUARD_VAR_DIR": str(self.workdir),
            "FUNDGUARD_JWT_SECRET": self.secret,
            "FUNDGUARD_PII_KEY": Fernet.generate_key().decode(),
            "FUNDGUARD_LOG_LEVEL": "INFO",
            "WEB_CONCURRENCY": str(web_workers),
            "PYTHONUNBUFFERED": "1",
            # short heartbeats so a silent partition is noticed within seconds in the tests
            "FUNDGUARD_BROKER_HEARTBEAT": "4",
            # one session's tests submit far more complaints from 127.0.0.1 than the production
            # default allows per hour; the limit itself is tested in
            # services/inspection/tests/test_complaint_rate_limit.py
            "FUNDGUARD_COMPLAINT_RATE_LIMIT": "100000",
        })
        for key in ("DATABASE_URL", "BROKER_URL", "FUNDGUARD_BUS_PREFIX"):
            env.pop(key, None)
        if backend == "real":
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            for s in SERVICES:
                self.db_urls[s] = f"{base}/{self.run_id}_{s}"
                env[f"{s.upper()}_DATABASE_URL"] = self.db_urls[s]
            broker = AMQP_URL
            if broker_proxy:
                from .tcpproxy import TcpProxy
                self.proxy = TcpProxy("127.0.0.1", 5672)
                broker = AMQP_URL.replace(":5672", f":{self.proxy.port}")
            env["BROKER_URL"] = broker
            env["FUNDGUARD_BUS_PREFIX"] = self.run_id
        else:
            for s in SERVICES:
                self.db_urls[s] = f"sqlite:///{self.workdir / (s + '.db')}"
            env["FUNDGUARD_BUS_PREFIX"] = "fundguard"
        self.env = env

    # -- lifecycle ---------------------------------------------------------------------------
    def setup(self) -> "Platform":
        if self.backend == "real":
            import psycopg
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                for s in SERVICES:
                    conn.execute(f'CREATE DATABASE "{self.run_id}_{s}"')
        for s in SERVICES:
            subprocess.run([_bin(f"fundguard-{s}"), "migrate"], env=self.env, check=True,
                           cwd=ROOT, capture_output=True)
        return self

    def start(self) -> "Platform":
        for s in SERVICES:
            self.start_web(s)
            self.start_worker(s)
        self.wait_ready()
        return self

    def start_web(self, s: str) -> None:
        env = dict(self.env, GUNICORN_BIND=f"127.0.0.1:{self.ports[s]}")
        self._spawn(f"{s}-web", [_bin("gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                 f"fundguard_{s}.app:create_app()"], env)

    def start_worker(self, s: str) -> None:
        self._spawn(f"{s}-worker", [_bin(f"fundguard-{s}"), "worker"], self.env)

    def _spawn(self, name: str, argv: list[str], env: dict) -> None:
        log = open(self.workdir / "logs" / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)

    def dump_stacks(self) -> None:
        """Ask every worker for its threads' stacks (written to its log), and on RabbitMQ
        record the run's queues (ready / unacked / consumers) in logs/broker.log."""
        for name, proc in self.procs.items():
            if name.endswith("-worker") and proc.poll() is None:
                os.kill(proc.pid, signal.SIGUSR1)
        if self.backend == "real":
            try:
                out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "messages_ready",
                                      "messages_unacknowledged", "consumers"],
                                     capture_output=True, text=True, timeout=60).stdout
                with open(self.workdir / "logs" / "broker.log", "a") as fh:
                    fh.write(time.strftime("%H:%M:%S ") + "\n".join(
                        line for line in out.splitlines() if self.run_id in line) + "\n")
            except (OSError, subprocess.SubprocessError):
                pass
        time.sleep(0.5)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        for s in SERVICES:
            while True:
                try:
                    if requests.get(self.url(s, "/readyz"), timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                for name, p in self.procs.items():
                    if p.poll() is not None:
                        raise RuntimeError(f"{name} exited: {self.log(name)[-3000:]}")
                if time.time() > deadline:
                    raise RuntimeError(f"{s} not ready")
                time.sleep(0.2)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def teardown(self) -> None:
        self.stop()
        if self.proxy:
            self.proxy.close()
        if self.backend == "real":
            import psycopg
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                for s in SERVICES:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.run_id}_{s}" WITH (FORCE)')
            self.delete_broker_objects()

    def delete_broker_objects(self) -> None:
        from kombu import Connection
        from fundguard_shared.topology import Topology
        exchanges, queues = Topology(self.run_id, rabbitmq=True).all_names()
        with Connection(AMQP_URL) as conn:
            ch = conn.channel()
            for q in queues:
                try:
                    ch.queue_delete(q)
                except Exception:
                    ch = conn.channel()
            for e in exchanges:
                try:
                    ch.exchange_delete(e)
                except Exception:
                    ch = conn.channel()

    def log(self, name: str) -> str:
        return (self.workdir / "logs" / f"{name}.log").read_text(errors="replace")

    # -- clients -------------------------------------------------------------------------------
    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def token(self, role: str, sub: str | None = None, **scope) -> str:
        return issue_token(Principal(sub=sub or f"{role}-{uuid.uuid4().hex[:6]}", role=role,
                                     **scope), self.secret, "fundguard-dev", "fundguard")

    def call(self, method: str, service: str, path: str, token: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url(service, path), headers=headers, timeout=15,
                                **kw)

    def engine(self, service: str):
        from fundguard_shared.db import make_engine
        return make_engine(self.db_urls[service])

    def broker_url(self) -> str:
        return self.env.get("BROKER_URL") or f"fgsqlite:///{self.workdir / 'bus.db'}"


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
