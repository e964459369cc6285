"""The portal next to a running ``tests.support.platform.Platform`` (composition: the platform
starts the three services and workers; this adds the portal's database, its demo users and,
for browser tests, its gunicorn process)."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import requests

from tests.support.platform import PG_ADMIN_URL, ROOT, _bin, free_port

from fundguard_portal.config import PortalSettings, load_portal_settings
from fundguard_portal.demo import DEMO_PASSWORD, DEMO_USERS

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


class PortalStack:
    def __init__(self, platform):
        self.platform = platform
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.db_name = f"{platform.run_id}_portal_{uuid.uuid4().hex[:6]}"
        if platform.backend == "real":
            self.db_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{self.db_name}"
        else:
            self.db_url = f"sqlite:///{platform.workdir / (self.db_name + '.db')}"
        self.env = dict(platform.env, PORTAL_DATABASE_URL=self.db_url,
                        INSPECTION_URL=platform.url("inspection", ""),
                        CASES_URL=platform.url("cases", ""), NOTIFY_URL=platform.url("notify", ""),
                        PORTAL_DEMO_PASSWORD=DEMO_PASSWORD,
                        # every test signs its people in from 127.0.0.1: the sign-in rate limit
                        # has its own test (tests/test_portal_login_rate_limit.py)
                        PORTAL_LOGIN_RATE_LIMIT="1000")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> PortalSettings:
        """Settings for an in-process portal app talking to this platform."""
        saved = dict(os.environ)
        try:
            os.environ.update(self.env)
            s = load_portal_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return dataclasses.replace(s, base=dataclasses.replace(s.base, jwt_secret=self.platform.secret))

    def setup(self) -> "PortalStack":
        if self.platform.backend == "real":
            import psycopg
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
        for cmd in (["migrate"], ["seed-demo-users"]):
            subprocess.run([_bin("fundguard-portal"), *cmd], env=self.env, cwd=ROOT, check=True,
                           capture_output=True)
        return self

    def start(self) -> "PortalStack":
        self.log_name = f"portal-web-{self.db_name[-6:]}"
        log = open(self.platform.workdir / "logs" / f"{self.log_name}.log", "ab")
        env = dict(self.env, GUNICORN_BIND=f"127.0.0.1:{self.port}")
        self.proc = subprocess.Popen(
            [_bin("gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"),
             "fundguard_portal.app:create_app()"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("portal did not start: "
                                   + self.platform.log(self.log_name)[-3000:])
            time.sleep(0.2)

    def teardown(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=20)
            self.proc = None
        if self.platform.backend == "real":
            import psycopg
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def demo_user(username: str) -> dict:
    for u, role, name, region, dept, inst in DEMO_USERS:
        if u == username:
            return {"username": u, "role": role, "name": name, "region": region,
                    "department": dept, "institution_id": inst, "password": DEMO_PASSWORD}
    raise KeyError(username)


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
