// The background worker, driven the way the extension drives it: requests over IPC to the bundled dist/worker.js,
// read errors with their codes, cancellation by killing the process, and a fresh process for the next request.
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RuntimeClient, RuntimeError } from '../../src/runtime/runtimeClient';

const ROOT = path.resolve(__dirname, '../..');
const WORKER = path.join(ROOT, 'dist/worker.js');
const generated = path.join(ROOT, 'test/fixtures/generated');

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
    const report = await client.analyse(
      { file: path.join(generated, 'cnn2_c6/model.onnx'), read: {}, analysis: { fixes: false } },
      { onProgress: (_done, _total, label) => progress.push(label) },
    );
    assert.equal(report.layers[0].metrics.deficiency, 189);
    assert.ok(progress.includes('conv_1'));
  });

  it('lists layers, and answers read errors with their code', async () => {
    const text = await client.layers({ file: path.join(generated, 'mlp/tfjs/model.json'), read: {}, baseDir: ROOT });
    assert.match(text, /dense_1/);
    const garbage = path.join(tmp, 'garbage.onnx');
    fs.writeFileSync(garbage, 'not a model at all\n'.repeat(10));
    await assert.rejects(
      client.analyse({ file: garbage, read: {}, analysis: {} }),
      (e: unknown) => e instanceof RuntimeError && e.code === 'not-a-model' && e.message.includes('garbage.onnx'),
    );
  });

  it('cancels by stopping the process, and starts a fresh one for the next request', async () => {
    let cancel: (() => void) | undefined;
    const token = { onCancellationRequested: (listener: () => void) => ((cancel = listener), { dispose: () => (cancel = undefined) }) };
    const slow = client.analyse({ file: path.join(generated, 'cnn6/model.onnx'), read: {}, analysis: {} }, { cancellation: token });
    setTimeout(() => cancel?.(), 200);
    await assert.rejects(slow, /cancelled/);
    const report = await client.analyse({ file: path.join(generated, 'cnn2_c0/model.onnx'), read: {}, analysis: { fixes: false } });
    assert.equal(report.layers[0].metrics.deficiency, 2821);
  });
});
