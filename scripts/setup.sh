#!/usr/bin/env bash
# Installs everything visitflow needs on Debian 12 (run as root): Python venv and packages,
# Dovecot and Postfix for the local mail sandbox. Safe to run again; skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dovecot >/dev/null 2>&1 || need_apt+=(dovecot-imapd dovecot-lmtpd)
command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || need_apt+=(postfix)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# Word forms are checked the way a reader sees them: LibreOffice to PDF, pdftotext, CJK fonts.
command -v soffice >/dev/null 2>&1 || need_apt+=(libreoffice-writer-nogui)
# The monthly report's .xlsx is also opened by LibreOffice Calc in the tests.
dpkg -s libreoffice-calc-nogui >/dev/null 2>&1 || dpkg -s libreoffice-calc >/dev/null 2>&1 \
  || need_apt+=(libreoffice-calc-nogui)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
[ -d /usr/share/fonts/opentype/noto ] || need_apt+=(fonts-noto-cjk)
# The templates' Latin fonts (Arial, Times New Roman) as Word lays them out: Liberation 2 has
# their metrics; without it LibreOffice falls back to the wider DejaVu and wraps differently.
dpkg -s fonts-liberation2 >/dev/null 2>&1 || need_apt+=(fonts-liberation2)
# HTML mail parts are checked the way a text-mode client (Alpine) shows them: w3m -dump.
command -v w3m >/dev/null 2>&1 || need_apt+=(w3m)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  # Postfix asks how to configure the system MTA; we run our own instance, so: none.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
  }
fi

# The sandbox's mail processes run as an unprivileged user.
id vmail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vmail 2>/dev/null || true

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.visitflow-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import service.cli' # fails loudly if the install did not work
  touch "$stamp"
fi
