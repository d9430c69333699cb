// Shared by the integration test files (they run in one extension host, in file-name order).
'use strict';
const assert = require('assert');
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

module.exports = { EXTENSION_ID, workspaceFile, leaklint, waitFor, show, codeOf, hoverText };
