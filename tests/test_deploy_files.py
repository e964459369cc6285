"""The deployment files describe the platform that runs here (no Docker engine on this machine, so
they are checked as data): every process of the Procfile exists in compose, every distribution is
in the image, the file stores sit on a shared volume, the services' databases exist."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DISTRIBUTIONS = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


def _procfile() -> dict[str, str]:
    lines = (DEPLOY / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_every_procfile_process_runs_in_compose_with_the_same_program():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name, command in _procfile().items():
        assert name in services, f"compose lacks {name}"
        program = " ".join(services[name]["command"])
        module = command.split("'")[1] if "'" in command else command.split()[-2]
        assert module in program, (name, program)


def test_every_distribution_is_installed_in_the_image_and_migrated_in_compose():
    docker = (DEPLOY / "Dockerfile").read_text()
    migrate = " ".join(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["migrate"]["command"])
    for dist in DISTRIBUTIONS:
        assert f"./services/{dist}" in docker, dist
        assert f"fundguard-{dist} migrate" in migrate, dist
    assert "fonts-wqy-microhei" in docker            # legal documents embed it


def test_file_stores_are_on_a_volume_shared_by_web_and_worker():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for svc in ("inspection-web", "inspection-worker", "cases-web", "cases-worker"):
        assert "files:/data" in compose["services"][svc]["volumes"], svc
    for svc in ("inspection", "cases"):
        docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / f"{svc}.yaml").read_text()) if d]
        claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
        for dep in (d for d in docs if d["kind"] == "Deployment"):
            spec = dep["spec"]["template"]["spec"]
            assert {v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]} <= claims
            for c in spec["containers"]:
                assert {"name": "files", "mountPath": "/data"} in c["volumeMounts"], dep["metadata"]["name"]


def test_every_service_database_is_created():
    sql = (DEPLOY / "postgres-init.sql").read_text()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    created = {compose["services"]["postgres"]["environment"]["POSTGRES_DB"]}
    created |= {line.split()[2] for line in sql.splitlines() if line.startswith("CREATE DATABASE")}
    assert {f"fundguard_{d}" for d in DISTRIBUTIONS} <= created


def test_kubernetes_manifests_parse_and_every_service_has_one():
    for dist in DISTRIBUTIONS:
        docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / f"{dist}.yaml").read_text()) if d]
        assert any(d["kind"] == "Service" for d in docs), dist
