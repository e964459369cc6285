#!/usr/bin/env bash
# Quick start, command 1: set everything up and run the whole platform on the embedded default
# (SQLite files + the embedded bus under ./var), load demo data, print where to look.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
export FUNDGUARD_VAR_DIR="${FUNDGUARD_VAR_DIR:-$ROOT/var}"
mkdir -p "$FUNDGUARD_VAR_DIR"
# the CJK font legal documents embed (fonts-wqy-microhei); without it issuing answers 503, the rest runs
font="${CASES_PDF_FONT:-/usr/share/fonts/truetype/wqy/wqy-microhei.ttc}"
[ -f "$font" ] || bash scripts/ensure_browser.sh || echo "==> no CJK font at $font: issuing documents will answer 503 / 缺少中文字体，执法文书暂不能出具" >&2
secret_file="$FUNDGUARD_VAR_DIR/dev-jwt-secret"
[ -s "$secret_file" ] || (umask 077; python -c 'import secrets; print(secrets.token_urlsafe(48))' > "$secret_file")
export FUNDGUARD_JWT_SECRET="${FUNDGUARD_JWT_SECRET:-$(cat "$secret_file")}"
pii_file="$FUNDGUARD_VAR_DIR/dev-pii-key"   # encrypts informant identities at rest (dev key)
[ -s "$pii_file" ] || (umask 077; python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > "$pii_file")
export FUNDGUARD_PII_KEY="${FUNDGUARD_PII_KEY:-$(cat "$pii_file")}"
export PORTAL_PORT="${PORTAL_PORT:-8100}" INSPECTION_PORT="${INSPECTION_PORT:-8101}" CASES_PORT="${CASES_PORT:-8102}" NOTIFY_PORT="${NOTIFY_PORT:-8103}"
for svc in inspection cases notify portal; do
  echo "==> migrating $svc"
  "fundguard-$svc" migrate
done
fundguard-portal seed-demo-users
echo "==> starting the platform (Ctrl-C stops it)"
honcho -f deploy/Procfile -d "$ROOT" start &
HONCHO=$!
trap 'rc=$?; kill $HONCHO 2>/dev/null || true; wait $HONCHO 2>/dev/null || true; exit $rc' EXIT
python scripts/demo.py --wait --load --print
echo "  portal / 门户: http://127.0.0.1:${PORTAL_PORT}/  demo users 演示用户 (password 密码 ${PORTAL_DEMO_PASSWORD:-fg-demo-2026}): insp-zhang insp-li leader-wang legal-zhao panel-chen panel-liu panel-sun panel-zhou inst-hx admin"
if [ "${FUNDGUARD_UP_EXIT_AFTER_DEMO:-0}" = "1" ]; then exit 0; fi
wait $HONCHO
