// The background worker, driven the way the extension drives it: requests over IPC to the bundled dist/worker.js,
// read errors with their codes, cancellation by killing the process, and a fresh process for the next request.
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RuntimeClient } from '../../src/runtime/runtimeClient';
import { defaultConfig, identifiabilityOptionsOf, writeLayersTable, type AuditOutcome, type LeakLintConfig, type ModelReport } from '../../src/engine';
import { IdentifiabilityMemo, withIdentifiability } from '../../src/runtime/identifiability';
import { identifiabilityJob } from '../../src/shared/workerProtocol';

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

  it("measures the gradients' Jacobian rank in the child process (trusted only), and the verdict takes it", async () => {
    const file = path.join(generated, 'cnn2_c0/model.onnx');
    const config = { ...defaultConfig(ROOT), fixes: false };
    const audited = await client.audit(audit(file, { fixes: false }));
    const samples = path.join(ROOT, 'media/samples');
    const { outcome, note } = await withIdentifiability(client, audited, config, { bundledSamples: samples, trusted: true });
    assert.equal(note, undefined);
    const evidence = reportOf(outcome).model.verdict.evidence.find((e) => e.kind === 'gradient-matching' && e.basis === 'jacobian-rank');
    assert.ok(evidence && evidence.kind === 'gradient-matching' && evidence.rank);
    assert.equal(evidence.rank.method, 'exact');
    assert.equal(evidence.rank.unknowns, 3072);
    assert.ok(evidence.rank.rank < 3072);
    // Untrusted: nothing native runs, and there is no such evidence (not "safe").
    const untrusted = await withIdentifiability(client, audited, config, { bundledSamples: samples, trusted: false });
    assert.equal(untrusted.outcome, audited);
    const refused = await client.run(identifiabilityJob, { file, config, options: identifiabilityOptionsOf(config, samples), trusted: false });
    assert.equal(refused.kind, 'not-run');
  });

  it('reuses a rank taken of the same bytes with the same options, and takes it again when either differs', async () => {
    const file = path.join(generated, 'cnn2_c0/model.onnx');
    const config = { ...defaultConfig(ROOT), fixes: false };
    const audited = await client.audit(audit(file, { fixes: false }));
    const samples = path.join(ROOT, 'media/samples');
    const memo = new IdentifiabilityMemo();
    const reuse = { memo, fingerprints: [`${file}:one`] };
    const first = await withIdentifiability(client, audited, config, { bundledSamples: samples, trusted: true, reuse });
    const rankOf = (outcome: AuditOutcome) =>
      reportOf(outcome).model.verdict.evidence.find((e) => e.kind === 'gradient-matching' && e.basis === 'jacobian-rank');
    assert.ok(rankOf(first.outcome));
    // A runtime that cannot run anything: the same bytes and options need none.
    const down = { run: () => Promise.reject(new Error('the worker is down')) } as unknown as typeof client;
    const again = await withIdentifiability(down, audited, { ...config, failOn: 'low' }, { bundledSamples: samples, trusted: true, reuse });
    assert.deepEqual(rankOf(again.outcome), rankOf(first.outcome));
    // Other bytes, or another label: the rank is taken again (here: fails, so no evidence and a note).
    const changed = await withIdentifiability(down, audited, config, {
      bundledSamples: samples,
      trusted: true,
      reuse: { memo, fingerprints: [`${file}:two`] },
    });
    assert.ok(changed.failed && rankOf(changed.outcome) === undefined);
    const relabelled = await withIdentifiability(down, audited, { ...config, attack: { label: 3 } }, { bundledSamples: samples, trusted: true, reuse });
    assert.ok(relabelled.failed);
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
