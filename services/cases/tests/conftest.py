"""Fixtures of the in-process cases tests live in ``casekit`` (importable by the test modules)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from casekit import app, client, db_url, desk, sessions, template_db  # noqa: E402,F401
