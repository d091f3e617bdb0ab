#!/usr/bin/env bash
# Install aimock (npm @copilotkit/aimock), the fastest peer bench/load.py compares against, into a
# scratch folder: bench/.aimock/ (git-ignored), or $AIMOCK_DIR. Nothing is installed globally.
#
#     bash bench/setup_aimock.sh            # then: python bench/load.py --targets ...,aimock
#
# Without npm this prints why and exits 0, and bench/load.py skips the aimock target with the
# same message. AIMOCK_VERSION pins a version (default: the newest).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${AIMOCK_DIR:-$here/.aimock}"
version="${AIMOCK_VERSION:-latest}"

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "setup_aimock: npm/node not found: aimock not installed, bench/load.py will skip it" \
         "(install Node.js 20+ with npm, e.g. apt-get install nodejs npm, then re-run)"
    exit 0
fi
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"private": true}' > package.json
npm install --no-audit --no-fund --no-save --loglevel=error "@copilotkit/aimock@$version"
cli="$dir/node_modules/@copilotkit/aimock/dist/cli.js"
test -f "$cli"
echo "setup_aimock: aimock $(node -p "require('$dir/node_modules/@copilotkit/aimock/package.json').version") at $cli"
