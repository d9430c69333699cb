// The settings that stand for command-line options: leaklint.configFile (`--config`), and Export Report's
// leaklint.export.sarifMinLevel (`--sarif-min-level`, with SARIF URIs relative to the workspace folder as
// `--sarif-root <folder>`) and leaklint.export.baseline (`--baseline`), each compared with the CLI on the same folder.
'use strict';
const assert = require('assert');
const path = require('path');
const vscode = require('vscode');
const { workspaceFile, leaklint, waitFor, codeOf, show, leaklintCli } = require('./helpers');

const settings = () => vscode.workspace.getConfiguration('leaklint');
const folder = () => vscode.workspace.workspaceFolders[0].uri.fsPath;
const write = (uri, value) => vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(JSON.stringify(value, null, 2)));
const readJson = async (uri) => JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));

/** `leaklint <args>` in the workspace folder; its stdout (exit codes 1 and 2 too: findings, bad.onnx). */
const cli = (args) => leaklintCli(args, folder());

suite('LeakLint settings for command-line options', () => {
  suiteSetup(async () => {
    await leaklint();
    await vscode.commands.executeCommand('leaklint.auditWorkspace');
  });

  suite('leaklint.configFile', () => {
    const configFile = () => workspaceFile('settings', 'strict.json');
    const modelJson = () => workspaceFile('tfjs', 'model.json');
    const ll002 = () => vscode.languages.getDiagnostics(modelJson()).find((d) => codeOf(d) === 'LL002');

    suiteTeardown(async () => {
      await settings().update('configFile', undefined, vscode.ConfigurationTarget.Workspace);
      await vscode.workspace.fs.delete(workspaceFile('settings'), { recursive: true }).then(undefined, () => undefined);
      await waitFor(ll002, 'LL002 to come back without the config file');
    });

    test('the named file applies, and a change to it is picked up and re-analyses', async function () {
      this.timeout(180_000);
      const { api } = await leaklint();
      await waitFor(ll002, 'LL002 on tfjs/model.json before the setting');
      await vscode.workspace.fs.createDirectory(workspaceFile('settings'));
      await write(configFile(), { rules: { LL002: 'off' } });
      await settings().update('configFile', 'settings/strict.json', vscode.ConfigurationTarget.Workspace);
      await waitFor(
        () => vscode.languages.getDiagnostics(modelJson()).length > 0 && !ll002(),
        () => `LL002 to go, got ${show(vscode.languages.getDiagnostics(modelJson()))}`,
      );
      const before = api.analyses.get(modelJson());
      assert.ok(
        before.report.layers.some((l) => l.fixes.length > 0),
        'fixes are proposed by default',
      );
      // The file changes on disk: it is read again, and a key that changes an analysis makes the worker run it again.
      await write(configFile(), { fixes: false });
      await waitFor(ll002, 'LL002 to come back once the file no longer turns it off');
      const after = await waitFor(() => {
        const analysis = api.analyses.get(modelJson());
        return analysis.key !== before.key && !analysis.fromCache && analysis;
      }, 'tfjs/model.json to be analysed again');
      assert.ok(
        after.report.layers.every((l) => l.fixes.length === 0),
        'no fixes: the file says so',
      );
    });

    test('a path that leaves the workspace folder is refused with a clear message', async () => {
      const { api } = await leaklint();
      for (const [value, reason] of [
        ['../outside.json', /leaves the workspace folder/],
        [path.join(path.dirname(folder()), 'outside.json'), /absolute path.*only files inside the workspace folder/],
      ]) {
        await settings().update('configFile', value, vscode.ConfigurationTarget.Workspace);
        await assert.rejects(api.analyses.analyse(modelJson()), (e) => {
          assert.match(e.message, /leaklint\.configFile/);
          assert.match(e.message, reason);
          return true;
        });
      }
      await settings().update('configFile', 'settings/missing.json', vscode.ConfigurationTarget.Workspace);
      await assert.rejects(api.analyses.analyse(modelJson()), /settings\/missing\.json", which does not exist/);
      await settings().update('configFile', undefined, vscode.ConfigurationTarget.Workspace);
    });
  });

  suite('Export Report', () => {
    // Every model brought up to date with the settings as they are now (the suite before changed them).
    suiteSetup(() => vscode.commands.executeCommand('leaklint.auditWorkspace'));
    teardown(async () => {
      await settings().update('export.sarifMinLevel', undefined, vscode.ConfigurationTarget.Workspace);
      await settings().update('export.baseline', undefined, vscode.ConfigurationTarget.Workspace);
    });

    const resultKeys = (sarif) =>
      sarif.runs[0].results.map((r) => `${r.ruleId} ${r.level} ${r.locations?.[0]?.physicalLocation?.artifactLocation?.uri} ${r.message.text}`).sort();

    test('leaklint.export.sarifMinLevel: the SARIF results of `leaklint audit --sarif-min-level high --sarif-root <folder>`', async function () {
      this.timeout(300_000); // the CLI takes every model's Jacobian rank afresh
      // Every model here is high once its Jacobian rank is in, so its layers are high or low (cnn6d's conv_1): compare
      // the lowest level with the highest.
      await settings().update('export.sarifMinLevel', 'low', vscode.ConfigurationTarget.Workspace);
      const low = await readJson(await vscode.commands.executeCommand('leaklint.exportReport', 'sarif', workspaceFile('low.sarif')));
      await settings().update('export.sarifMinLevel', 'high', vscode.ConfigurationTarget.Workspace);
      const high = await readJson(await vscode.commands.executeCommand('leaklint.exportReport', 'sarif', workspaceFile('high.sarif')));
      assert.ok(resultKeys(high).length < resultKeys(low).length, 'fewer results at level high');
      const fromCli = JSON.parse(await cli(['audit', '.', '--format', 'sarif', '--fail-on', 'none', '--sarif-min-level', 'high', '--sarif-root', folder()]));
      assert.deepStrictEqual(resultKeys(high), resultKeys(fromCli));
    });

    test('leaklint.export.baseline: only findings new or worse since the previous report, as `leaklint audit --baseline`', async function () {
      this.timeout(300_000); // the CLI takes every model's Jacobian rank afresh
      const previous = await vscode.commands.executeCommand('leaklint.exportReport', 'json', workspaceFile('previous.json'));
      assert.ok((await readJson(previous)).issues.length > 10);
      await settings().update('export.baseline', 'previous.json', vscode.ConfigurationTarget.Workspace);
      const since = await readJson(await vscode.commands.executeCommand('leaklint.exportReport', 'json', workspaceFile('since.json')));
      assert.deepStrictEqual(since.issues, [], 'nothing changed since the baseline');
      assert.ok(since.summary.baseline.unchanged > 10, JSON.stringify(since.summary));
      const fromCli = JSON.parse(await cli(['audit', '.', '--format', 'json', '--fail-on', 'none', '--baseline', 'previous.json']));
      assert.deepStrictEqual(since.issues, fromCli.issues);
      assert.strictEqual(since.summary.baseline.unchanged, fromCli.summary.baseline.unchanged);
    });

    test('a baseline outside the workspace folder is refused and nothing is written', async () => {
      await settings().update('export.baseline', '../previous.json', vscode.ConfigurationTarget.Workspace);
      const target = workspaceFile('refused.json');
      assert.strictEqual(await vscode.commands.executeCommand('leaklint.exportReport', 'json', target), undefined);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(target)), 'no report was written');
    });
  });
});
