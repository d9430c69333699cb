// The hybrid correction step (src/engine/attack/gradientMatching.ts, docs/algorithm.md §5.6): the hand-written double
// backprop against finite differences, the optimiser's contract, and — the product's acceptance criterion — that on
// rank-deficient networks, where the closed form cannot pin the layer input down, the refinement lowers both the
// objective and the error to the true input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { readModelFile } from './files';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { ConvOperator } from '../../src/engine/numerics/convOperators';
import { convGeometry } from '../../src/engine/numerics/convGeometry';
import { createRng } from '../../src/engine/numerics/random';
import {
  GradientMatchingObjective,
  cosineSimilarity,
  defaultRefineSettings,
  refineLayerInput,
  totalVariation,
  type LinearResidual,
  type RefineSettings,
} from '../../src/engine/attack/gradientMatching';

const generated = path.resolve(__dirname, '../fixtures/generated');
const network = async (file: string) => AttackNetwork.fromGraph(await readModelFile(path.join(generated, file)));

/** A smooth synthetic 3×32×32 image, shifted to [−0.5, 0.5] as in the hybrid code's data. */
function smoothImage(): Float64Array {
  const x = new Float64Array(3 * 32 * 32);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < 32; i++)
      for (let j = 0; j < 32; j++) {
        x[(c * 32 + i) * 32 + j] = 0.25 * Math.sin((i + 3 * c) / 5) * Math.cos((j - 2 * c) / 7) + 0.15 * Math.exp(-((i - 12) ** 2 + (j - 18) ** 2) / 60);
      }
  return x;
}

/** Deterministic pseudo-random perturbation of a layer input. */
function perturbed(x: Float64Array, amplitude: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return x.map((v) => v + amplitude * rng.normal());
}

function relativeError(estimate: Float64Array, truth: Float64Array): number {
  let e = 0;
  let n = 0;
  for (let k = 0; k < truth.length; k++) {
    e += (estimate[k] - truth[k]) ** 2;
    n += truth[k] ** 2;
  }
  return Math.sqrt(e / n);
}

/**
 * The layer's stacked linear system as the caller of the correction owns it: ‖K(δz) x − G‖² + ‖W_op x − (z − b)‖²
 * (docs/algorithm.md §3.2), with the true δz and z of the layer.
 */
function stackedSystem(net: AttackNetwork, unitId: string, dz: Float64Array, G: Float64Array, z: Float64Array): LinearResidual {
  const unit = net.order.find((u) => u.id === unitId)!;
  const op = new ConvOperator(convGeometry(unit.conv!));
  const g = op.geom;
  const W = net.kernel(unitId);
  const b = net.bias(unitId);
  const gx = new Float64Array(g.nW);
  const zx = new Float64Array(g.nZ);
  const tmp = new Float64Array(g.nX);
  const per = g.outHeight * g.outWidth;
  const residuals = (x: Float64Array) => {
    op.gradient(dz, x, gx);
    op.forward(W, x, zx);
    for (let i = 0; i < g.nW; i++) gx[i] -= G[i];
    for (let k = 0; k < g.nZ; k++) zx[k] -= z[k] - (b ? b[Math.floor(k / per)] : 0);
  };
  return {
    value(x) {
      residuals(x);
      let s = 0;
      for (const v of gx) s += v * v;
      for (const v of zx) s += v * v;
      return s;
    },
    gradient(x, out) {
      residuals(x);
      op.gradientTranspose(dz, gx, out);
      op.forwardTranspose(W, zx, tmp);
      for (let j = 0; j < g.nX; j++) out[j] = 2 * (out[j] + tmp[j]);
    },
  };
}

/** A simulated client step and everything the correction of one unit needs. */
async function setup(file: string, unitId: string, label = 3) {
  const net = await network(file);
  const { trace, step } = net.trainingStep(smoothImage(), label);
  const truth = net.unitInput(trace, unitId).slice();
  const linear = stackedSystem(net, unitId, step.preActivationGrad.get(unitId)!, step.gradients.get(unitId)!.kernel, trace.preActivation.get(unitId)!);
  return { net, step, truth, linear, label };
}

// ---------------------------------------------------------------------------------------------------------------

test('∂J/∂x (double backprop through the sub-network) matches finite differences', async (t) => {
  const cases: [string, string][] = [
    ['cnn6/model.onnx', 'conv_6'],
    ['cnn6/model.onnx', 'conv_3'],
    ['lenet-sigmoid/model.onnx', 'conv_2'],
  ];
  for (const [file, unitId] of cases) {
    const { net, step, truth, linear, label } = await setup(file, unitId);
    const weights = { wCos: 1.3, wTv: 0.2, wLs: 0.05, wNorm: 0.01 };
    const objective = new GradientMatchingObjective(net, unitId, step.gradients, label, weights, linear);
    const x = perturbed(truth, 0.05 * Math.sqrt(truth.reduce((s, v) => s + v * v, 0) / truth.length), 17);
    const grad = new Float64Array(x.length);
    const J = objective.valueAndGradient(x, grad);
    assert.ok(Math.abs(J - objective.value(x)) < 1e-12 * Math.abs(J), 'value and valueAndGradient agree');
    const terms = objective.terms(x);
    assert.ok(terms.cosine > 0 && terms.tv > 0 && terms.linear > 0 && terms.norm > 0);
    let scale = 0;
    for (const v of grad) scale = Math.max(scale, Math.abs(v));
    const rng = createRng(5);
    let worst = 0;
    for (let trial = 0; trial < 6; trial++) {
      const k = Math.floor(rng.uniform() * x.length);
      const old = x[k];
      const f = (d: number) => {
        x[k] = old + d;
        const v = objective.value(x);
        x[k] = old;
        return v;
      };
      // TV and LeakyReLU kinks: keep the best of a few steps (a step across a kink says nothing about the gradient)
      let best = Infinity;
      for (const h of [1e-6, 2e-7, 4e-6]) {
        const numeric = (f(h) - f(-h)) / (2 * h);
        best = Math.min(best, Math.abs(numeric - grad[k]) / Math.max(Math.abs(grad[k]), 0.1 * scale));
        if (best < 1e-7) break;
      }
      worst = Math.max(worst, best);
    }
    // Directional derivative along a random direction over all entries.
    const dir = new Float64Array(x.length).map(() => rng.normal());
    const along = (d: number) => objective.value(x.map((v, k) => v + d * dir[k]));
    const analytic = grad.reduce((s, g, k) => s + g * dir[k], 0);
    let directional = Infinity;
    for (const h of [1e-7, 1e-8, 1e-6]) {
      const numeric = (along(h) - along(-h)) / (2 * h);
      directional = Math.min(directional, Math.abs(numeric - analytic) / Math.abs(analytic));
    }
    t.diagnostic(`${file} from ${unitId}: J = ${J.toExponential(3)}, worst entry error ${worst.toExponential(2)}, directional ${directional.toExponential(2)}`);
    assert.ok(worst < 1e-5, `${file} ${unitId}: worst relative error ${worst}`);
    assert.ok(directional < 1e-5, `${file} ${unitId}: directional derivative error ${directional}`);
  }
});

test('building blocks: cosine, total variation, the §5.6 defaults', async () => {
  const a = Float64Array.from([1, 2, 3]);
  assert.ok(
    Math.abs(
      cosineSimilarity(
        a,
        a.map((v) => 2 * v),
      ) - 1,
    ) < 1e-15,
  );
  assert.ok(Math.abs(cosineSimilarity(a, Float64Array.from([-3, 0, 1]))) < 1e-15);
  assert.equal(cosineSimilarity(new Float64Array(3), a), 0);
  // 1×2×3 image: horizontal |1−0|,|3−1|,|0−4|,|0−0| → mean 7/4; vertical |4−0|,|0−1|,|0−3| → mean 8/3
  const x = Float64Array.from([0, 1, 3, 4, 0, 0]);
  assert.ok(Math.abs(totalVariation(x, [1, 2, 3], undefined) - (7 / 4 + 8 / 3)) < 1e-15);
  assert.equal(totalVariation(x, undefined, undefined), 0);
  assert.equal(totalVariation(x, [6, 1, 1], undefined), 0);
  const table = [0, 1, 2, 5].map(defaultRefineSettings).map((s) => [s.wCos, s.wTv, s.wLs, s.wNorm, s.iterations, s.learningRate]);
  assert.deepEqual(table, [
    [1, 1, 0.05, 0, 10000, 1e-3],
    [1, 1, 0.1, 0, 8000, 1e-3],
    [10, 0.1, 1, 0, 1000, 1e-3],
    [10, 0.1, 1, 0, 1000, 1e-3],
  ]);
});

test('refineLayerInput: deterministic, best iterate, stops by iterations, deadline or signal', async () => {
  const { net, step, truth, linear, label } = await setup('cnn2_c2/model.onnx', 'conv_1');
  const x0 = perturbed(truth, 0.05, 3);
  const settings: RefineSettings = { ...defaultRefineSettings(0), iterations: 25, learningRate: 2e-3 };
  const seen: number[] = [];
  const a = refineLayerInput(net, 'conv_1', x0, step.gradients, label, settings, { linear, onIteration: (_, J) => seen.push(J) });
  const b = refineLayerInput(net, 'conv_1', x0, step.gradients, label, settings, { linear });
  assert.equal(a.iterations, 25);
  assert.equal(a.stoppedBy, 'iterations');
  assert.deepEqual(a.x, b.x, 'deterministic');
  assert.equal(seen.length, 25);
  assert.equal(a.objectiveAfter, Math.min(a.objectiveBefore, ...seen), 'the best iterate is returned');
  const objective = new GradientMatchingObjective(net, 'conv_1', step.gradients, label, settings, linear);
  assert.ok(Math.abs(objective.value(a.x) - a.objectiveAfter) < 1e-12 * a.objectiveAfter);
  assert.deepEqual(x0, perturbed(truth, 0.05, 3), 'x0 is not modified');

  const late = refineLayerInput(net, 'conv_1', x0, step.gradients, label, settings, { linear, deadline: Date.now() - 1 });
  assert.equal(late.stoppedBy, 'time');
  assert.equal(late.iterations, 0);
  assert.deepEqual(late.x, x0);
  const controller = new AbortController();
  const cancelled = refineLayerInput(net, 'conv_1', x0, step.gradients, label, settings, {
    linear,
    signal: controller.signal,
    onIteration: (it) => it === 3 && controller.abort(),
  });
  assert.equal(cancelled.stoppedBy, 'cancelled');
  assert.equal(cancelled.iterations, 3);
  assert.throws(() => refineLayerInput(net, 'conv_1', x0.subarray(1), step.gradients, label, settings), RangeError);
});

test('on rank-deficient layers the correction lowers J and the error to the true input', async (t) => {
  // 1. CNN6-d, layer 2 (deficiency 280 of 3468, docs/algorithm.md §4.5): an estimate 30 % off the truth in every direction,
  //    the §5.6 weights of the second conv layer and its stacked system as the linear term.
  {
    const { net, step, truth, linear, label } = await setup('cnn6d/model.onnx', 'conv_2');
    const rms = Math.sqrt(truth.reduce((s, v) => s + v * v, 0) / truth.length);
    const x0 = perturbed(truth, 0.3 * rms, 21);
    const settings = { ...defaultRefineSettings(1), iterations: 20 };
    const started = performance.now();
    const r = refineLayerInput(net, 'conv_2', x0, step.gradients, label, settings, { linear });
    const seconds = (performance.now() - started) / 1000;
    const before = relativeError(x0, truth);
    const after = relativeError(r.x, truth);
    t.diagnostic(
      `cnn6d conv_2: J ${r.objectiveBefore.toFixed(4)} → ${r.objectiveAfter.toFixed(4)}, relative error ${before.toFixed(4)} → ${after.toFixed(4)} ` +
        `(${r.iterations} Adam steps, lr ${settings.learningRate}, ${(r.iterations / seconds).toFixed(1)} it/s)`,
    );
    assert.ok(r.objectiveAfter < r.objectiveBefore, 'J decreases');
    assert.ok(after < before, 'the error to the true input decreases');
  }
  // 2. cnn2_c6 (Conv(12, k5, s2) on 32×32: row and column 31 are never seen, deficiency 189): start from the
  //    minimum-norm solution itself — the truth on the covered pixels, 0 on the unseen border. Only the prior of J
  //    can say anything about the border.
  {
    const { net, step, truth, linear, label } = await setup('cnn2_c6/model.onnx', 'conv_1');
    const x0 = truth.slice();
    for (let c = 0; c < 3; c++) for (let k = 0; k < 32; k++) x0[(c * 32 + 31) * 32 + k] = x0[(c * 32 + k) * 32 + 31] = 0;
    assert.ok(linear.value(x0) < 1e-20, 'x0 solves the linear system exactly');
    const settings = { ...defaultRefineSettings(0), iterations: 150 };
    const started = performance.now();
    const r = refineLayerInput(net, 'conv_1', x0, step.gradients, label, settings, { linear });
    const seconds = (performance.now() - started) / 1000;
    const before = relativeError(x0, truth);
    const after = relativeError(r.x, truth);
    t.diagnostic(
      `cnn2_c6 conv_1 (minimum-norm start): J ${r.objectiveBefore.toFixed(5)} → ${r.objectiveAfter.toFixed(5)}, relative error ${before.toFixed(4)} → ${after.toFixed(4)} ` +
        `(${r.iterations} steps, ${(r.iterations / seconds).toFixed(0)} it/s)`,
    );
    assert.ok(r.objectiveAfter < r.objectiveBefore, 'J decreases');
    assert.ok(after < before, 'the error to the true input decreases');
  }
});

test('iteration rate of the correction on CNN6 from its first conv (3×32×32 input)', async (t) => {
  const { net, step, truth, label } = await setup('cnn6/model.onnx', 'conv_1');
  const settings = { ...defaultRefineSettings(0), iterations: 5 };
  refineLayerInput(net, 'conv_1', truth, step.gradients, label, { ...settings, iterations: 1 }); // warm-up
  const started = performance.now();
  const r = refineLayerInput(net, 'conv_1', perturbed(truth, 0.01, 1), step.gradients, label, settings);
  const rate = r.iterations / ((performance.now() - started) / 1000);
  t.diagnostic(`cnn6 from conv_1: ${rate.toFixed(1)} iterations/s (each: forward, backward, second-order sweep)`);
  assert.equal(r.iterations, 5);
  assert.ok(r.objectiveAfter <= r.objectiveBefore);
});
