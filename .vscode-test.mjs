// Desktop VS Code (Electron) configuration for @vscode/test-cli (`npx vscode-test`, which drives
// @vscode/test-electron): the same mocha suite as `npm run test:integration` runs in code-server.
// Run: npm run test:integration:vscode-test. Not used in this repository's CI (VS Code cannot be downloaded there);
// `npm run test:integration:electron` is the
// equivalent without @vscode/test-cli. dist/ must be built first (npm run build).
import { createRequire } from 'module';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const require = createRequire(import.meta.url);
const { makeWorkspace } = require('./test/integration/makeWorkspace.js');

const run = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-vscode-test-'));
const workspaceFolder = makeWorkspace(path.join(run, 'workspace'));

export default {
  label: 'integration',
  // In file-name order, as the code-server runner does (later files reuse the audit of 10-diagnostics).
  files: fs
    .readdirSync('test/integration/suite')
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => `test/integration/suite/${f}`),
  version: process.env.VSCODE_VERSION || 'stable',
  workspaceFolder,
  launchArgs: ['--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
  mocha: { ui: 'tdd', timeout: 240_000, color: true },
};
