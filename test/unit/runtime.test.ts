// The background runtime: the bundled worker (dist/worker.js) driven through RuntimeClient, the way the extension
// and the CLI drive it. onnxruntime-node forward passes with every intermediate tensor, progress, time budgets,
// cancellation, a worker killed mid-job, and no telemetry droppings from the native library.
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { toNumber } from '../../src/engine/readers/onnx/protobuf';
import { readModelFile } from './files';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { RuntimeClient, RuntimeError } from '../../src/runtime/runtimeClient';
import { createForwardSession } from '../../src/worker/ortForward';
import { buildForwardProbe } from '../../src/engine/attack/forwardProbe';
import { defaultConfig, writeLayersTable, type AttackOutcome, type AuditOutcome, type LayersOutcome, type ModelReport } from '../../src/engine';
import type { TensorMap } from '../../src/shared/workerProtocol';
import { bundledSamplesFolder } from '../../src/node/bundle';
import { files } from './files';

const ROOT = path.resolve(__dirname, '../..');
const WORKER = path.join(ROOT, 'dist/worker.js');
const generated = path.join(ROOT, 'test/fixtures/generated');
const CNN6 = path.join(generated, 'cnn6/model.onnx');
/** Static analysis of cnn6 takes seconds: long enough to stop it mid-job. */
const SLOW_ANALYSIS = { file: CNN6, config: defaultConfig(ROOT), trusted: true };
const QUICK_ANALYSIS = { file: path.join(generated, 'cnn2_c0/model.onnx'), config: { ...defaultConfig(ROOT), fixes: false }, trusted: true };
const CNN6_LAYERS = { file: CNN6, config: {}, trusted: true };
const ATTACK_OPTIONS = { maxImages: 1, imageFolder: bundledSamplesFolder() };

function reportOf(outcome: AuditOutcome): ModelReport {
  assert.equal(outcome.kind, 'report', JSON.stringify(outcome));
  return (outcome as Extract<AuditOutcome, { kind: 'report' }>).report;
}

function attackReportOf(outcome: AttackOutcome) {
  assert.equal(outcome.kind, 'attack', JSON.stringify(outcome));
  return (outcome as Extract<AttackOutcome, { kind: 'attack' }>).report;
}

function layersText(outcome: LayersOutcome): string {
  assert.equal(outcome.kind, 'layers', JSON.stringify(outcome));
  return writeLayersTable((outcome as Extract<LayersOutcome, { kind: 'layers' }>).listing, ROOT);
}

/** Resolves when the job has reported progress, that is when the worker is busy with it. */
function progressSeen(): { onProgress: () => void; started: Promise<void> } {
  let onProgress = () => {};
  const started = new Promise<void>((resolve) => (onProgress = resolve));
  return { onProgress, started };
}

describe('background runtime', () => {
  let client: RuntimeClient;

  before(async () => {
    if (!fs.existsSync(WORKER)) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--config-name', 'extension'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    }
    client = new RuntimeClient(WORKER);
  });

  after(() => client.dispose());

  it('runs cnn6 in onnxruntime-node with every node output exposed, equal to a float64 forward pass', async () => {
    const input = testImage(3 * 32 * 32);
    const tensors = await client.forward({ file: CNN6, input, shape: [3, 32, 32] });

    const model = onnx.ModelProto.decode(fs.readFileSync(CNN6));
    const nodeOutputs = model.graph!.node!.flatMap((n) => n.output!);
    assert.deepEqual([...tensors.keys()], nodeOutputs);
    const layerDims: Record<string, number[]> = {
      conv_1: [12, 17, 17],
      conv_2: [36, 9, 9],
      conv_3: [36, 9, 9],
      conv_4: [36, 9, 9],
      conv_5: [64, 5, 5],
      conv_6: [128, 5, 5],
    };
    for (const [layer, dims] of Object.entries(layerDims)) {
      assert.deepEqual(tensors.get(`${layer}_output`)!.dims, [1, ...dims], layer);
      assert.deepEqual(tensors.get(`leaky_relu_${layer.slice(5)}_output`)!.dims, [1, ...dims]);
    }
    assert.deepEqual(tensors.get('flatten_1_output')!.dims, [1, 3200]);
    assert.deepEqual(tensors.get('logits')!.dims, [1, 10]);

    // Every tensor, not only the logits, agrees with float64 to float32 accuracy; the logits also with the engine's.
    const reference = forwardFloat64(model, Float64Array.from(input));
    reference.set('logits (engine)', AttackNetwork.fromGraph(await readModelFile(CNN6, {})).forward(Float64Array.from(input)).logits);
    for (const [name, expected] of reference) {
      const actual = tensors.get(name.replace(' (engine)', ''))!.data;
      assert.equal(actual.length, expected.length, name);
      const scale = Math.max(...expected.map(Math.abs));
      const worst = Math.max(...expected.map((v, i) => Math.abs(v - actual[i])));
      assert.ok(worst <= 1e-5 * scale, `${name}: max |ORT − float64| = ${worst} for values up to ${scale}`);
    }
  });

  it('reports progress, and fails a forward pass it cannot run with a clear error naming the model', async () => {
    const labels: string[] = [];
    await client.audit(QUICK_ANALYSIS, { onProgress: (_done, _total, label) => labels.push(label) });
    assert.ok(labels.includes('conv_1'), labels.join());

    await assert.rejects(
      client.forward({ file: CNN6, input: [1, 2, 3], shape: [1, 3] }),
      (e: unknown) =>
        e instanceof RuntimeError && e.code === 'runtime' && e.message.includes(CNN6) && /does not fit the model input \[batch, 3, 32, 32\]/.test(e.message),
    );
    const tfjs = path.join(generated, 'mlp/tfjs/model.json');
    await assert.rejects(client.forward({ file: tfjs, input: [0], shape: [1] }), (e: unknown) => e instanceof RuntimeError && e.code === 'unreadable');
  });

  it('fails a job over its time budget, and runs the next job in a fresh process', async () => {
    const { onProgress, started } = progressSeen();
    const slow = client.audit(SLOW_ANALYSIS, { timeBudgetMs: 300, onProgress });
    const firstPid = await started.then(() => client.pid);
    await assert.rejects(
      slow,
      (e: unknown) =>
        e instanceof RuntimeError && e.stopped === 'time-budget' && /^job \d+ \(audit .*cnn6.model\.onnx\) went over its time budget of 0\.3 s/.test(e.message),
    );
    const report = reportOf(await client.audit(QUICK_ANALYSIS));
    assert.equal(report.layers[0].metrics.deficiency, 2821);
    assert.notEqual(client.pid, firstPid);
  });

  it('fails only the job of a worker killed mid-job (SIGKILL), and the next job succeeds', async () => {
    const { onProgress, started } = progressSeen();
    const slow = client.audit(SLOW_ANALYSIS, { onProgress });
    await started;
    const killedPid = client.pid!;
    process.kill(killedPid, 'SIGKILL');
    await assert.rejects(slow, (e: unknown) => {
      assert.ok(e instanceof RuntimeError && e.stopped === 'worker-exit', String(e));
      assert.match(e.message, /^job \d+ \(audit .*cnn6.model\.onnx\) failed: the LeakLint worker process was killed \(SIGKILL/);
      assert.match(e.message, /the next job starts a fresh worker/);
      return true;
    });
    const report = reportOf(await client.audit(QUICK_ANALYSIS));
    assert.equal(report.layers[0].metrics.deficiency, 2821);
    assert.notEqual(client.pid, killedPid);
  });

  it('cancels with an AbortSignal or a cancellation token: running, queued, and already-aborted jobs', async () => {
    const controller = new AbortController();
    const { onProgress, started } = progressSeen();
    const running = client.audit(SLOW_ANALYSIS, { signal: controller.signal, onProgress });
    let cancelQueued: (() => unknown) | undefined;
    const token = { onCancellationRequested: (listener: () => unknown) => ((cancelQueued = listener), { dispose: () => (cancelQueued = undefined) }) };
    const queued = client.layers(CNN6_LAYERS, { cancellation: token });
    const next = client.layers(CNN6_LAYERS);
    await started;
    cancelQueued!();
    controller.abort();
    const cancelled = (e: unknown) => e instanceof RuntimeError && e.stopped === 'cancelled' && /^job \d+ \(.*\) was cancelled$/.test(e.message);
    await assert.rejects(running, cancelled);
    await assert.rejects(queued, cancelled);
    assert.match(layersText(await next), /conv_6/);
    await assert.rejects(client.audit(QUICK_ANALYSIS, { signal: AbortSignal.abort() }), cancelled);
  });

  it('runs the attack in the child, with progress and the onnxruntime-node cross-check only when trusted', async () => {
    const labels: string[] = [];
    const request = { file: path.join(generated, 'cnn2_c0/model.onnx'), config: {}, options: ATTACK_OPTIONS, trusted: true };
    const report = attackReportOf(await client.attack(request, { onProgress: (_done, _total, label) => labels.push(label) }));
    assert.equal(report.images.length, 1);
    assert.ok(
      labels.some((l) => l.startsWith('attacking')),
      labels.join(),
    );
    assert.equal(report.runtimeCheck?.runtime, 'onnxruntime-node');
    assert.ok(report.runtimeCheck!.tensorsCompared > 0 && report.runtimeCheck!.maxAbsDifference < 1e-5, JSON.stringify(report.runtimeCheck));
    const untrusted = attackReportOf(await client.attack({ ...request, trusted: false }));
    assert.equal(untrusted.runtimeCheck, undefined);
  });

  it('fails an attack whose worker is killed mid-job, and the next attack succeeds', async () => {
    const { onProgress, started } = progressSeen();
    const attack = client.attack({ file: CNN6, config: {}, options: ATTACK_OPTIONS, trusted: true }, { onProgress });
    await started;
    process.kill(client.pid!, 'SIGKILL');
    await assert.rejects(attack, /job \d+ \(attack .*cnn6.model\.onnx\) failed: the LeakLint worker process was killed \(SIGKILL/);
    const report = attackReportOf(
      await client.attack({ file: path.join(generated, 'cnn2_c0/model.onnx'), config: {}, options: ATTACK_OPTIONS, trusted: true }),
    );
    assert.equal(report.images.length, 1);
  });

  it('cancels an attack cooperatively: the job fails at once, and the process is kept once the attack stops', async () => {
    // A long grace period: the engine checks its signal between solver steps, so this does not depend on how often.
    const patient = new RuntimeClient(WORKER, { cancelGraceMs: 30_000 });
    try {
      const controller = new AbortController();
      const { onProgress, started } = progressSeen();
      const attack = patient.attack(
        { file: path.join(generated, 'cnn2_c0/model.onnx'), config: {}, options: ATTACK_OPTIONS, trusted: true },
        { onProgress, signal: controller.signal },
      );
      await started;
      const pid = patient.pid;
      const cancelledAt = Date.now();
      controller.abort();
      await assert.rejects(attack, (e: unknown) => e instanceof RuntimeError && e.stopped === 'cancelled');
      assert.ok(Date.now() - cancelledAt < 100, 'the cancelled job failed without waiting for the worker');
      assert.match(layersText(await patient.layers(CNN6_LAYERS)), /conv_6/);
      assert.equal(patient.pid, pid);
    } finally {
      patient.dispose();
    }
  });

  it('loads onnxruntime-node only for the jobs that run it, and without its telemetry log file', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-runtime-'));
    const isolated = new RuntimeClient(WORKER, { env: { TMPDIR: tmp } });
    try {
      if (process.platform === 'linux') {
        // The control: without ORT_DISABLE_TELEMETRY, creating a session leaves $TMPDIR/mat-debug-<pid>.log.
        const control = fs.mkdtempSync(path.join(tmp, 'control-'));
        const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: control };
        delete env.ORT_DISABLE_TELEMETRY;
        // onnxruntime-node also stays quiet when CI is set (measured): the control must look like a desktop.
        delete env.CI;
        const script = `require('onnxruntime-node').InferenceSession.create(${JSON.stringify(CNN6)}).then(() => console.log(process.pid))`;
        const pid = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, env, encoding: 'utf8' }).trim();
        assert.ok(fs.readdirSync(control).includes(`mat-debug-${pid}.log`), 'the control run left no telemetry log');
        fs.rmSync(control, { recursive: true });
      }
      const nativeLoaded = () => fs.readFileSync(`/proc/${isolated.pid}/maps`, 'utf8').includes('libonnxruntime');
      await isolated.audit(QUICK_ANALYSIS);
      if (process.platform === 'linux') assert.equal(nativeLoaded(), false, 'static analysis loaded native code');
      const tensors = await isolated.forward({ file: CNN6, input: testImage(3 * 32 * 32), shape: [1, 3, 32, 32] });
      assert.ok(tensors.has('logits'));
      if (process.platform === 'linux') assert.equal(nativeLoaded(), true);
      const pid = isolated.pid;
      assert.ok(pid);
      assert.deepEqual(fs.readdirSync(tmp), []);
      assert.equal(fs.existsSync(path.join(os.tmpdir(), `mat-debug-${pid}.log`)), false);
    } finally {
      isolated.dispose();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('refuses jobs once disposed, failing the queued ones', async () => {
    const disposable = new RuntimeClient(WORKER);
    const running = assert.rejects(
      disposable.audit(SLOW_ANALYSIS),
      /job 1 \(audit .*\) failed: the LeakLint worker process was stopped \(the LeakLint runtime was disposed\)$/,
    );
    const queued = assert.rejects(disposable.layers(CNN6_LAYERS), (e: unknown) => e instanceof RuntimeError && e.stopped === 'disposed');
    disposable.dispose();
    await Promise.all([running, queued]);
    await assert.rejects(disposable.layers(CNN6_LAYERS), /runtime was disposed/);
  });
});

describe('forward probe (in process)', () => {
  const forward = async (file: string, input: Float32Array, shape: number[], bytes?: Uint8Array) => {
    const session = await createForwardSession(await buildForwardProbe(files, file, bytes));
    try {
      return await session.run(input, shape);
    } finally {
      await session.release();
    }
  };

  it('takes model bytes, fills in the batch dim, and returns float tensors only', async () => {
    const bytes = new Uint8Array(fs.readFileSync(CNN6));
    const fromBytes = await forward('cnn6 bytes', testImage(3 * 32 * 32), [3, 32, 32], bytes);
    const fromFile = await forward(CNN6, testImage(3 * 32 * 32), [1, 3, 32, 32]);
    assert.deepEqual(sameValues(fromBytes, fromFile), true);
    await assert.rejects(forward('cut.onnx', new Float32Array(3072), [3, 32, 32], bytes.subarray(0, 100)), /cut\.onnx/);
  });
});

function sameValues(a: TensorMap, b: TensorMap): boolean {
  return a.size === b.size && [...a].every(([name, t]) => b.has(name) && t.data.every((v, i) => v === b.get(name)!.data[i]));
}

/** A smooth, deterministic image in [−1, 1]. */
function testImage(size: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
}

/**
 * An independent float64 forward pass of the cnn6 graph (Conv, LeakyRelu, Flatten, Gemm with transB), read straight
 * from the ONNX protobuf: tensor name → values, for batch 1.
 */
function forwardFloat64(model: onnx.ModelProto, input: Float64Array): Map<string, Float64Array> {
  const graph = model.graph!;
  const weights = new Map<string, { dims: number[]; data: Float64Array }>();
  for (const t of graph.initializer!) {
    const raw = t.rawData!;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const data = Float64Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
    weights.set(t.name!, { dims: t.dims!.map((d) => toNumber(d)), data });
  }
  const values = new Map<string, { dims: number[]; data: Float64Array }>([[graph.input![0].name!, { dims: [3, 32, 32], data: input }]]);
  const result = new Map<string, Float64Array>();
  for (const node of graph.node!) {
    const x = values.get(node.input![0])!;
    const ints = (name: string) => node.attribute!.find((a) => a.name === name)!.ints!.map((v) => toNumber(v));
    let out: { dims: number[]; data: Float64Array };
    if (node.opType === 'Conv') out = conv2d(x, weights.get(node.input![1])!, ints('strides')[0], ints('pads')[0]);
    else if (node.opType === 'LeakyRelu') {
      const alpha = node.attribute!.find((a) => a.name === 'alpha')!.f!;
      out = { dims: x.dims, data: x.data.map((v) => (v >= 0 ? v : alpha * v)) };
    } else if (node.opType === 'Flatten') out = { dims: [x.data.length], data: x.data };
    else if (node.opType === 'Gemm') {
      const w = weights.get(node.input![1])!;
      const b = weights.get(node.input![2])!;
      const [rows, cols] = w.dims;
      const y = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let sum = b.data[r];
        for (let c = 0; c < cols; c++) sum += w.data[r * cols + c] * x.data[c];
        y[r] = sum;
      }
      out = { dims: [rows], data: y };
    } else throw new Error(`the reference does not know ${node.opType}`);
    values.set(node.output![0], out);
    result.set(node.output![0], out.data);
  }
  return result;
}

function conv2d(x: { dims: number[]; data: Float64Array }, w: { dims: number[]; data: Float64Array }, stride: number, pad: number) {
  const [C, H, W] = x.dims;
  const [O, , KH, KW] = w.dims;
  const OH = Math.floor((H + 2 * pad - KH) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - KW) / stride) + 1;
  const y = new Float64Array(O * OH * OW);
  for (let o = 0; o < O; o++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let sum = 0;
        for (let c = 0; c < C; c++)
          for (let kh = 0; kh < KH; kh++) {
            const h = oh * stride - pad + kh;
            if (h < 0 || h >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const col = ow * stride - pad + kw;
              if (col < 0 || col >= W) continue;
              sum += w.data[((o * C + c) * KH + kh) * KW + kw] * x.data[(c * H + h) * W + col];
            }
          }
        y[(o * OH + oh) * OW + ow] = sum;
      }
  return { dims: [O, OH, OW], data: y };
}
