// The extension's cache key, made in the worker: the fingerprinted audit returns the same outcome as the audit plus
// the size, whole-millisecond modification time and SHA-256 of every file it read (the model and its TF.js shard),
// and the fingerprint job tells unchanged bytes under a new time from changed bytes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultConfig } from '../../src/engine';
import { fingerprintFiles } from '../../src/node/fileFingerprints';
import { RuntimeClient } from '../../src/runtime/runtimeClient';

const ROOT = path.resolve(__dirname, '../..');
const WORKER = path.join(ROOT, 'dist/worker.js');
const TFJS = path.join(ROOT, 'test/fixtures/generated/lenet-sigmoid/tfjs');

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('fingerprinted audit (the extension cache key)', () => {
  let client: RuntimeClient;
  let folder: string;

  before(() => {
    assert.ok(fs.existsSync(WORKER), 'dist/worker.js is missing: npm run build');
    client = new RuntimeClient(WORKER);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-fingerprints-'));
    fs.cpSync(TFJS, folder, { recursive: true });
  });
  after(() => {
    client.dispose();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('returns the audit outcome and a fingerprint of the model and its shard', async () => {
    const file = path.join(folder, 'model.json');
    const config = { ...defaultConfig(folder), fixes: false };
    const { outcome, inputs } = await client.fingerprintedAudit({ file, config, trusted: true });
    const plain = await client.audit({ file, config, trusted: true });
    assert.equal(outcome.kind, 'report');
    assert.deepEqual(
      { ...outcome, report: { ...(outcome as { report: object }).report, seconds: 0 } },
      { ...plain, report: { ...(plain as { report: object }).report, seconds: 0 } },
    );
    const shard = path.join(folder, 'group1-shard1of1.bin');
    assert.deepEqual(
      inputs.map((i) => i.file),
      [shard, file].sort(),
    );
    for (const input of inputs) {
      assert.ok(!('missing' in input));
      const stat = fs.statSync(input.file);
      assert.equal(input.size, stat.size);
      assert.equal(input.mtime, stat.mtime.getTime());
      assert.equal(input.sha256, sha256(input.file));
    }
  });

  it('a missing shard is an input too (the model is analysed again when it appears)', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-fingerprints-missing-'));
    try {
      fs.copyFileSync(path.join(TFJS, 'model.json'), path.join(copy, 'model.json'));
      const { outcome, inputs } = await client.fingerprintedAudit({ file: path.join(copy, 'model.json'), config: defaultConfig(copy), trusted: true });
      assert.equal(outcome.kind, 'failure');
      assert.deepEqual(
        inputs.find((i) => i.file.endsWith('group1-shard1of1.bin')),
        { file: path.join(copy, 'group1-shard1of1.bin'), missing: true },
      );
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('a shard that is looked at but not read (too short: "truncated") is an input', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-fingerprints-short-'));
    try {
      fs.cpSync(TFJS, copy, { recursive: true });
      const shard = path.join(copy, 'group1-shard1of1.bin');
      fs.writeFileSync(shard, fs.readFileSync(shard).subarray(0, 100));
      const { outcome, inputs } = await client.fingerprintedAudit({ file: path.join(copy, 'model.json'), config: defaultConfig(copy), trusted: true });
      assert.equal(outcome.kind === 'failure' && outcome.failure.code, 'truncated');
      const input = inputs.find((i) => i.file === shard);
      assert.ok(input && !('missing' in input) && input.size === 100, JSON.stringify(inputs));
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('the fingerprint job: a new time with the same bytes keeps the hash, new bytes change it', async () => {
    const shard = path.join(folder, 'group1-shard1of1.bin');
    const [before] = await client.fingerprint({ files: [shard] });
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(shard, later, later);
    const [touched] = await client.fingerprint({ files: [shard] });
    assert.ok(!('missing' in before) && !('missing' in touched));
    assert.notEqual(touched.mtime, before.mtime);
    assert.equal(touched.sha256, before.sha256);
    const bytes = fs.readFileSync(shard);
    bytes[0] ^= 0xff;
    fs.writeFileSync(shard, bytes);
    const [changed] = await client.fingerprint({ files: [shard] });
    assert.ok(!('missing' in changed));
    assert.notEqual(changed.sha256, before.sha256);
  });

  it('fingerprintFiles sorts, dedupes and marks missing files', async () => {
    const model = path.join(folder, 'model.json');
    // A folder (the engine stats some) is not an input.
    const result = await fingerprintFiles([model, path.join(folder, 'nope.bin'), model, folder]);
    assert.deepEqual(
      result.map((r) => [path.basename(r.file), 'missing' in r]),
      [
        ['model.json', false],
        ['nope.bin', true],
      ],
    );
  });
});
