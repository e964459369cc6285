"""Cross-service fixtures: the whole platform on the backend chosen by FUNDGUARD_TEST_BACKEND
(``embedded`` default, ``real`` = PostgreSQL + RabbitMQ)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.platform import ROOT, Platform

BACKEND = os.environ.get("FUNDGUARD_TEST_BACKEND", "embedded")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BACKEND == "real" and item.get_closest_marker("embedded_only"):
            item.add_marker(pytest.mark.skip(reason="embedded backend only"))
        if BACKEND != "real" and item.get_closest_marker("real_only"):
            item.add_marker(pytest.mark.skip(reason="needs FUNDGUARD_TEST_BACKEND=real"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "platform" in item.fixturenames:
        item.funcargs["platform"].dump_stacks()


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
def platform(tmp_path_factory, backend):
    workdir = tmp_path_factory.mktemp(f"platform-{backend}")
    p = Platform(backend, workdir, broker_proxy=(backend == "real")).setup().start()
    try:
        yield p
    finally:
        p.teardown()
        artifacts = ROOT / "test-artifacts" / f"logs-{backend}"
        shutil.rmtree(artifacts, ignore_errors=True)
        shutil.copytree(workdir / "logs", artifacts)


@pytest.fixture(scope="session")
def tokens(platform):
    """One token per role, two departments in region 510100, one institution, a foreign region."""
    return {
        "inspector": platform.token("inspector", "insp-a", region="510100", department="稽核一科"),
        "inspector_other_dept": platform.token("inspector", "insp-b", region="510100",
                                               department="稽核二科"),
        "inspector_other_region": platform.token("inspector", "insp-c", region="440100",
                                                 department="稽核一科"),
        "leader": platform.token("leader", "leader-a", region="510100"),
        "leader_other_region": platform.token("leader", "leader-b", region="440100"),
        "legal_reviewer": platform.token("legal_reviewer", "legal-a", region="510100"),
        "panel_member": platform.token("panel_member", "panel-a", region="510100"),
        "institution": platform.token("institution", "inst-a", institution_id="H5101001"),
        "institution_other": platform.token("institution", "inst-b", institution_id="H9999999"),
        "admin": platform.token("admin", "admin-a"),
    }
