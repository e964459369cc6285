"""Fixtures of the inspection service's tests (defined in ``inspection_testkit``)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from inspection_testkit import api, tokens  # noqa: E402,F401
