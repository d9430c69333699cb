// Commands: export through the engine's report writers (and the same findings as the CLI), runtime restart.
'use strict';
const assert = require('assert');
const path = require('path');
const vscode = require('vscode');
const { workspaceFile, leaklint, leaklintCli } = require('./helpers');

suite('LeakLint commands', () => {
  suiteSetup(async () => {
    await leaklint();
    await vscode.commands.executeCommand('leaklint.auditWorkspace');
  });

  test('Export Report (JSON) has the same issues as `leaklint audit` on the same folder', async function () {
    this.timeout(300_000); // the CLI takes every model's Jacobian rank afresh
    const target = workspaceFile('export.json');
    await vscode.commands.executeCommand('leaklint.exportReport', 'json', target);
    const exported = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(target)));
    const folder = vscode.workspace.workspaceFolders[0].uri.fsPath;
    const cliOutput = await leaklintCli(['audit', folder, '--format', 'json', '--fail-on', 'none'], folder);
    const cli = JSON.parse(cliOutput);
    const key = (i) => `${path.relative(folder, path.resolve(folder, i.file))} ${i.nodeId || '-'} ${i.ruleId} ${i.severity} ${i.message}`;
    const fromCli = cli.issues.map(key).sort();
    assert.ok(fromCli.length > 10, 'the CLI found issues');
    assert.deepStrictEqual(exported.issues.map(key).sort(), fromCli);
    assert.deepStrictEqual(
      exported.failures.map((f) => [path.basename(f.file), f.code]),
      cli.failures.map((f) => [path.basename(f.file), f.code]),
    );
  });

  test('Export Report (SARIF, Markdown)', async () => {
    const sarifUri = workspaceFile('export.sarif');
    await vscode.commands.executeCommand('leaklint.exportReport', 'sarif', sarifUri);
    const sarif = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(sarifUri)));
    assert.strictEqual(sarif.version, '2.1.0');
    assert.ok(sarif.runs[0].results.some((r) => r.ruleId.split('/')[0] === 'LL002' && r.properties.rule === 'LL002'));
    const mdUri = workspaceFile('export.md');
    await vscode.commands.executeCommand('leaklint.exportReport', 'markdown', mdUri);
    assert.match(new TextDecoder().decode(await vscode.workspace.fs.readFile(mdUri)), /conv_2/);
  });

  test('Restart Background Runtime, then analysis still works', async () => {
    assert.strictEqual(await vscode.commands.executeCommand('leaklint.restartRuntime'), true);
    const analysis = await vscode.commands.executeCommand('leaklint.auditCurrentModel', workspaceFile('model.onnx'));
    assert.strictEqual(analysis.kind, 'report');
    assert.ok(analysis.report.layers.some((l) => l.name === 'conv_2'));
  });
});
