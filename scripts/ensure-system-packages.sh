#!/usr/bin/env bash
# Installs the Debian packages the test suite drives when they are missing (run by `make test`):
#   LibreOffice Calc (headless) - the XLSX export is read back by LibreOffice;
#   Chromium + ChromeDriver     - the pages are tested in a real browser (Selenium);
#   a CJK font                  - so that the pages' Chinese renders in the screenshots;
#   wrk                         - the read load of the soak (benchmarks/soak.py, run by .ci/run);
#   a Java runtime (JRE 17)     - only when `java` is missing: the Spark tests (--engine spark).
# Needs root (as on the CI machine); otherwise it says what to install and the tests that need it
# fail with that message.
set -euo pipefail
missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc-nogui)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "warning: please install: sudo apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "installing ${missing[*]} from Debian ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
