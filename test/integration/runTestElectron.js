// The same integration suite in desktop VS Code (Electron), for machines that can download VS Code:
//   npm run test:integration:electron            (VSCODE_VERSION=stable|insiders|1.90.0, default stable)
// @vscode/test-electron downloads VS Code into .vscode-test/, starts it with this repository as the extension
// under development, test/integration/suite/index.js as the tests and a temporary copy of the fixtures as the folder.
// NOT RUN IN THIS SANDBOX: update.code.visualstudio.com is unreachable here, so the download fails; this sandbox
// runs the suite in code-server instead (npm run test:integration). dist/ must be built first (npm run build).
// On a Linux machine without a display, run it under xvfb-run.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { runTests } = require('@vscode/test-electron');
const { makeWorkspace } = require('./makeWorkspace');

const ROOT = path.resolve(__dirname, '../..');

async function main() {
  for (const f of ['extension.js', 'worker.js']) {
    if (!fs.existsSync(path.join(ROOT, 'dist', f))) throw new Error(`dist/${f} is missing: run npm run build first`);
  }
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-electron-'));
  const workspace = makeWorkspace(path.join(run, 'workspace'));
  try {
    const launch = (extensionTestsPath) =>
      runTests({
        version: process.env.VSCODE_VERSION || 'stable',
        extensionDevelopmentPath: ROOT,
        extensionTestsPath,
        launchArgs: [
          workspace,
          '--disable-extensions', // other installed extensions stay out; the one under development still loads
          '--disable-workspace-trust',
          '--skip-welcome',
          '--skip-release-notes',
          `--user-data-dir=${path.join(run, 'user-data')}`,
          `--extensions-dir=${path.join(run, 'extensions')}`,
        ],
      });
    await launch(path.join(__dirname, 'suite', 'index.js'));
    // A reload: the same storage and workspace in a new window.
    await launch(path.join(__dirname, 'suite-reload', 'index.js'));
  } finally {
    fs.rmSync(run, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
