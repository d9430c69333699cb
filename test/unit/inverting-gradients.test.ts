// The Inverting Gradients optimiser (src/engine/attack/invertingGradients.ts) on a real gradient graph run by
// onnxruntime-node: signed Adam within the input box, best iterate kept, one run per start with the lowest objective
// winning, deterministic for a seed, and stopped by a deadline (keeping its best iterate) or an abort signal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { readModelFile, files } from './files';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { inputBox, invertGradients } from '../../src/engine/attack/invertingGradients';
import { buildInvertingGradientsGraph } from '../../src/engine/gradientGraph';
import { createGradientSession } from '../../src/worker/gradientSession';
import { loadSampleImages } from '../../src/engine/images/modelInput';
import { bundledSamplesFolder } from '../../src/node/bundle';

process.env.ORT_DISABLE_TELEMETRY = '1';

const CENTRED = { mean: [0.5], std: [1] };
const model = (name: string) => readModelFile(path.resolve(__dirname, '../fixtures/generated', name, 'model.onnx'));

describe('Inverting Gradients, the optimiser', () => {
  async function setUp() {
    const net = AttackNetwork.fromGraph(await model('conv-bn-maxpool'));
    const [sample] = await loadSampleImages(files, bundledSamplesFolder(), net.inputShape, CENTRED, { limit: 1 });
    const { trace, step } = net.trainingStep(sample.input, 0);
    const graph = buildInvertingGradientsGraph(net, { label: 0, shared: net.namedGradients(step, trace), tvWeight: 0.01 });
    return { net, session: await createGradientSession(graph), box: inputBox(net.inputShape, CENTRED) };
  }

  test('lowers the objective within the box, keeps the best iterate, and is deterministic for a seed', async () => {
    const { session, box } = await setUp();
    try {
      const run = () => invertGradients(session, { box, settings: { iterations: 80, learningRate: 0.1 }, starts: [{ kind: 'noise', seed: 7 }] });
      const first = await run();
      assert.ok(first.loss < first.startLosses[0] / 2, `loss ${first.startLosses[0]} → ${first.loss}`);
      assert.equal(first.iterations, 80);
      assert.equal(first.stoppedBy, 'iterations');
      for (let k = 0; k < first.x.length; k++) assert.ok(first.x[k] >= box.lower[k] && first.x[k] <= box.upper[k], `entry ${k} leaves the box`);
      // The loss reported is the objective at the image returned.
      assert.ok(Math.abs((await session.evaluate(first.x)).loss - first.loss) <= 1e-6 * first.loss);
      assert.deepEqual(await run(), first);
    } finally {
      await session.release();
    }
  });

  test('runs one run per start, the lowest objective wins, and a deadline stops it with its best iterate', async () => {
    const { session, box } = await setUp();
    try {
      const starts = [
        { kind: 'noise' as const, seed: 1 },
        { kind: 'noise' as const, seed: 2 },
      ];
      const both = await invertGradients(session, { box, settings: { iterations: 30, learningRate: 0.1 }, starts });
      assert.equal(both.runs, 2);
      assert.equal(both.iterations, 60);
      const single = await Promise.all(starts.map((s) => invertGradients(session, { box, settings: { iterations: 30, learningRate: 0.1 }, starts: [s] })));
      assert.equal(both.loss, Math.min(...single.map((r) => r.loss)));
      const cut = await invertGradients(session, { box, settings: { iterations: 1_000_000, learningRate: 0.1 }, starts, deadline: Date.now() + 300 });
      assert.equal(cut.stoppedBy, 'time');
      assert.equal(cut.runs, 1, 'no second run after the deadline');
      assert.ok(Number.isFinite(cut.loss) && cut.iterations > 0 && cut.iterations < 1_000_000);
      const aborted = invertGradients(session, { box, settings: { iterations: 1_000_000, learningRate: 0.1 }, starts, signal: AbortSignal.timeout(200) });
      await assert.rejects(aborted, (e: unknown) => (e as Error).name === 'TimeoutError');
    } finally {
      await session.release();
    }
  });
});
