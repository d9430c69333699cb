// The background worker, driven the way the extension drives it: requests over IPC to the bundled dist/worker.js,
// read errors with their codes, cancellation by killing the process, and a fresh process for the next request.
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RuntimeClient } from '../../src/runtime/runtimeClient';
import { defaultConfig, writeLayersTable, type AuditOutcome, type LeakLintConfig, type ModelReport } from '../../src/engine';

const ROOT = path.resolve(__dirname, '../..');
const WORKER = path.join(ROOT, 'dist/worker.js');
const generated = path.join(ROOT, 'test/fixtures/generated');

/** An audit request as the extension sends it: the file, the workspace's config, and whether it is trusted. */
function audit(file: string, config: Partial<LeakLintConfig> = {}) {
  return { file, config: { ...defaultConfig(ROOT), ...config }, trusted: true };
}

function reportOf(outcome: AuditOutcome): ModelReport {
  assert.equal(outcome.kind, 'report', JSON.stringify(outcome));
  return (outcome as Extract<AuditOutcome, { kind: 'report' }>).report;
}

describe('background worker', () => {
  let client: RuntimeClient;
  let tmp: string;

  before(() => {
    if (!fs.existsSync(WORKER)) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--config-name', 'extension'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    }
    client = new RuntimeClient(WORKER);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-worker-'));
  });

  after(() => {
    client.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('analyses a model in the child process, with progress', async () => {
    const progress: string[] = [];
    const report = reportOf(
      await client.audit(audit(path.join(generated, 'cnn2_c6/model.onnx'), { fixes: false }), { onProgress: (_done, _total, label) => progress.push(label) }),
    );
    assert.equal(report.layers[0].metrics.deficiency, 189);
    assert.ok(progress.includes('conv_1'));
  });

  it('lists layers, and answers read errors with their code', async () => {
    const layers = await client.layers({ file: path.join(generated, 'mlp/tfjs/model.json'), config: {}, trusted: true });
    assert.ok(layers.kind === 'layers');
    assert.match(writeLayersTable(layers.listing, ROOT), /dense_1/);
    const garbage = path.join(tmp, 'garbage.onnx');
    fs.writeFileSync(garbage, 'not a model at all\n'.repeat(10));
    const outcome = await client.audit(audit(garbage));
    assert.ok(outcome.kind === 'failure' && outcome.failure.code === 'not-a-model' && outcome.failure.file.endsWith('garbage.onnx'), JSON.stringify(outcome));
  });

  it('cancels by stopping the process, and starts a fresh one for the next request', async () => {
    let cancel: (() => void) | undefined;
    const token = { onCancellationRequested: (listener: () => void) => ((cancel = listener), { dispose: () => (cancel = undefined) }) };
    const slow = client.audit(audit(path.join(generated, 'cnn6/model.onnx')), { cancellation: token });
    setTimeout(() => cancel?.(), 200);
    await assert.rejects(slow, /cancelled/);
    const report = reportOf(await client.audit(audit(path.join(generated, 'cnn2_c0/model.onnx'), { fixes: false })));
    assert.equal(report.layers[0].metrics.deficiency, 2821);
  });
});
