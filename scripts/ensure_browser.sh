#!/usr/bin/env bash
# Installs what the browser tests (tests/browser/) need from Debian, only when missing:
# chromium (driven headless by Python playwright with executable_path=/usr/bin/chromium; the
# playwright package never downloads a browser here) and fonts-wqy-microhei so Chinese renders
# (also the CJK font embedded in legal-document PDFs), plus poppler-utils for the PDF tests.
# Non-interactive; works as root with no stdin. Uses sudo -n when not root and sudo allows it.
# Exit 0 when both are present afterwards; non-zero (with a message) when they cannot be had.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "install ok installed" \
  || missing+=(fonts-wqy-microhei)
# poppler-utils: pdftotext / pdffonts for the legal-document tests (services/cases/tests/test_documents*.py)
command -v pdftotext >/dev/null 2>&1 && command -v pdffonts >/dev/null 2>&1 || missing+=(poppler-utils)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "ensure_browser: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_browser: missing ${missing[*]} and no apt-get on this machine" >&2
  exit 1
fi
echo "==> installing ${missing[*]} (Debian packages for the browser tests)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"; } \
    </dev/null >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "ensure_browser: apt-get failed for ${missing[*]}" >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || { echo "ensure_browser: /usr/bin/chromium still missing" >&2; exit 1; }
