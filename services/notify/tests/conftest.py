import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from notify_testkit import notify, notify_env, receiver, smtp_sink  # noqa: E402,F401  (fixtures)
