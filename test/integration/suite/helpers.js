// Shared by the integration test files (they run in one extension host, in file-name order).
'use strict';
const assert = require('assert');
const { execFile } = require('child_process');
const path = require('path');
const vscode = require('vscode');

const manifest = require('../../../package.json');
const EXTENSION_ID = `${manifest.publisher}.${manifest.name}`; // leaklint.leaklint

function workspaceFile(...parts) {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  assert.ok(folder, 'the test needs a workspace folder (run through test/integration/run.sh)');
  return vscode.Uri.joinPath(folder.uri, ...parts);
}

/** The activated extension and its API (extension.ts LeakLintApi). */
async function leaklint() {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
  const api = await extension.activate();
  return { extension, api };
}

/** Polls until `check()` returns a truthy value; fails with `describe()` after `ms`. */
async function waitFor(check, describe, ms = 60_000) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > ms) assert.fail(`timed out after ${ms} ms waiting for ${typeof describe === 'function' ? describe() : describe}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const show = (ds) => ds.map((d) => `${codeOf(d)} L${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message}`).join('\n  ');
/** Diagnostic codes are {value, target} (the docs link) or plain strings (read errors). */
const codeOf = (d) => (d.code && typeof d.code === 'object' ? d.code.value : d.code);

/** Markdown text of hover contents, whatever their form. */
const hoverText = (hovers) => hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');

/** Every model of the test workspace (makeWorkspace.js), as paths relative to the folder. */
const WORKSPACE_MODELS = [['bad.onnx'], ['cnn6.onnx'], ['model.onnx'], ['tfjs', 'model.json'], ['tfjs-min', 'model.json']];

/** The read-only layer document of a model: where its ONNX layer findings are. */
function layerDocumentUri(model) {
  return vscode.Uri.from({ scheme: 'leaklint-layers', path: `${model.path}.layers`, query: model.toString() });
}

/** Every diagnostic of a model: on the file, and for ONNX on its layer document. */
function diagnosticsOf(model) {
  const own = vscode.languages.getDiagnostics(model);
  return model.path.endsWith('.onnx') ? [...own, ...vscode.languages.getDiagnostics(layerDocumentUri(model))] : own;
}

/** The model's verdict as the extension shows it: the engine's verdict object once it has one, else severity/risk. */
function verdictOf(report) {
  return report.model.verdict || { severity: report.model.severity, risk: report.model.risk };
}

/** Closes every editor and waits until no tab is left (webviews close asynchronously). */
async function closeAllEditors() {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  await waitFor(() => vscode.window.tabGroups.all.every((g) => g.tabs.length === 0), 'every tab to close', 10_000);
}

/** Diagnostics of every model, as comparable data. */
function diagnosticsSnapshot() {
  const out = {};
  for (const parts of WORKSPACE_MODELS) {
    out[parts.join('/')] = diagnosticsOf(workspaceFile(...parts))
      .map((d) => `${typeof d.code === 'object' ? d.code.value : d.code} ${d.range.start.line}:${d.range.start.character} ${d.severity} ${d.message}`)
      .sort();
  }
  return out;
}

/**
 * The repository's command line (dist/cli.js) in `cwd`: its stdout, whatever the exit code (1: findings, 2: an
 * unreadable model). Asynchronous: an audit takes each model's Jacobian rank (15-25 s for a 3×32×32 model), and a
 * synchronous child would stall the extension host the tests run in.
 */
function leaklintCli(args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(__dirname, '..', '..', '..', 'dist', 'cli.js'), ...args],
      { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } },
      (error, stdout, stderr) => (error && typeof error.code !== 'number' ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

module.exports = {
  diagnosticsSnapshot,
  EXTENSION_ID,
  WORKSPACE_MODELS,
  workspaceFile,
  leaklint,
  waitFor,
  show,
  codeOf,
  hoverText,
  layerDocumentUri,
  diagnosticsOf,
  verdictOf,
  closeAllEditors,
  leaklintCli,
};
