#!/usr/bin/env bash
# Quick start, command 2: set everything up and run the test suite, on the embedded default and,
# when PostgreSQL and RabbitMQ are reachable (or FUNDGUARD_REQUIRE_REAL=1), on them too.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" || exit 1
cd "$ROOT"
mkdir -p test-artifacts
# Debian's chromium + a CJK font for the browser tests (installed when missing)
if bash scripts/ensure_browser.sh; then export FUNDGUARD_REQUIRE_BROWSER=1; else echo "==> Chromium unavailable: browser tests will be skipped" >&2; fi
run() {  # pytest's exit code 5 (no tests collected) is a failure here, never a pass
  python -m pytest "$@"; rc=$?
  if [ $rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
  return $rc
}
echo "==> suite on the embedded default (SQLite + embedded bus)"
FUNDGUARD_TEST_BACKEND=embedded run "$@" || exit 1
if python scripts/real_backends.py --check; then
  echo "==> suite on PostgreSQL + RabbitMQ"
  FUNDGUARD_TEST_BACKEND=real run -m "not embedded_only" "$@" || exit 1
elif [ "${FUNDGUARD_REQUIRE_REAL:-0}" = "1" ]; then
  echo "PostgreSQL/RabbitMQ required but not reachable" >&2; exit 1
else
  echo "==> PostgreSQL or RabbitMQ not reachable: real-backend pass skipped"
fi
