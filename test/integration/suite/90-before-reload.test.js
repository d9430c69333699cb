// Last suite of the first window: records what the Problems panel holds, for the suite that runs after a reload
// (suite-reload/, same storage and workspace) to compare. The workspace must be as the first suite found it.
'use strict';
const assert = require('assert');
const fs = require('fs');
const { WORKSPACE_MODELS, workspaceFile, leaklint, closeAllEditors, waitFor, diagnosticsSnapshot } = require('./helpers');

suite('before the reload', () => {
  test('the findings of every model are cached; what Problems shows is recorded', async () => {
    const { api } = await leaklint();
    await closeAllEditors();
    await api.scanFinished();
    // No analysis in flight (the last suites changed settings and files and restored them).
    await waitFor(
      () => WORKSPACE_MODELS.every((parts) => api.analyses.get(workspaceFile(...parts)) && !api.analyses.isAnalysing(workspaceFile(...parts))),
      'all models analysed',
    );
    const shown = diagnosticsSnapshot();
    for (const [model, list] of Object.entries(shown)) assert.ok(list.length > 0, `${model} has no diagnostics`);
    const folder = workspaceFile('.leaklint-e2e');
    fs.mkdirSync(folder.fsPath, { recursive: true });
    fs.writeFileSync(workspaceFile('.leaklint-e2e', 'diagnostics.json').fsPath, JSON.stringify(shown, null, 1));
  });
});
