// Gradient-matching identifiability: the streamed QR and column rank, J's rank from Jᵀu products on onnxruntime-node
// against a dense Jacobian (central differences of the float64 network's parameter gradients), per-layer ranks, the
// verdict rule (full rank → high unless an attack resisted, deficient → medium, never lower), and the fixtures.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditFile, defaultConfig, type ModelReport } from '../../src/engine';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { StreamedColumnRank } from '../../src/engine/identifiability/columnRank';
import { analyseIdentifiability, layerBlocks, patchOf } from '../../src/engine/identifiability/jacobianRank';
import { lowerNetwork } from '../../src/engine/gradientGraph/lowering';
import { loadSampleImages } from '../../src/engine/images/modelInput';
import type { LayerGraph } from '../../src/engine/ir';
import { qrcp } from '../../src/engine/numerics/qr';
import { createRng } from '../../src/engine/numerics/random';
import { StreamingQr } from '../../src/engine/numerics/streamingQr';
import { readModel } from '../../src/engine/readers';
import { decideVerdict, identifiabilityEvidence, withEvidence } from '../../src/engine/verdict/decide';
import type { Evidence } from '../../src/engine/verdict/types';
import type { IdentifiabilityReport } from '../../src/engine/jobs/identifiability';
import { nodeFileAccess as files } from '../../src/node/nodeFileAccess';
import { createJacobianProductSession } from '../../src/worker/jacobianSession';
import { IrNet } from './gradient-graph-nets';
import { torchReferenceInput } from './torch-input';

process.env.ORT_DISABLE_TELEMETRY = '1';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/generated');
const SAMPLES = path.join(ROOT, 'media/samples');
const THRESHOLDS = { high: 0.7, medium: 0.3 };
const TOLERANCE = 1e-6;

function gaussianColumns(n: number, k: number, seed: number): Float64Array[] {
  const rng = createRng(seed);
  return Array.from({ length: k }, () => Float64Array.from({ length: n }, () => rng.normal()));
}

describe('streamed QR and column rank', () => {
  test('RᵀR equals MᵀM whatever the panel size and flush points', () => {
    for (const [n, k, block] of [
      [7, 5, 2],
      [20, 33, 4],
      [64, 40, 32],
      [37, 80, 5],
    ]) {
      const M = gaussianColumns(n, k, n + k);
      const qr = new StreamingQr(n, block);
      M.forEach((c, j) => {
        qr.add(c);
        if (j === 3) qr.flush();
      });
      qr.flush();
      let worst = 0;
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          let mm = 0;
          for (let t = 0; t < n; t++) mm += M[a][t] * M[b][t];
          const ra = qr.rColumns[a];
          const rb = qr.rColumns[b];
          let rr = 0;
          for (let t = 0; t < Math.min(ra.length, rb.length); t++) rr += ra[t] * rb[t];
          worst = Math.max(worst, Math.abs(mm - rr) / n);
        }
      }
      assert.ok(worst < 1e-12, `${n}x${k} (panels of ${block}): |RᵀR − MᵀM| up to ${worst.toExponential(2)}`);
    }
  });

  test('random combinations of a rank-r basis give rank r, and the stopping rule stops soon after r columns', () => {
    const n = 300;
    for (const r of [40, 150, 300]) {
      const basis = gaussianColumns(n, r, r);
      const rng = createRng(7);
      const stream = new StreamedColumnRank(n, TOLERANCE, 32);
      while (stream.columns < n + 16) {
        const column = new Float64Array(n);
        for (const b of basis) {
          const c = rng.normal();
          for (let t = 0; t < n; t++) column[t] += c * b[t];
        }
        stream.add(column);
        if (stream.columns % 32 === 0 && stream.settled(16)) break;
      }
      assert.equal(stream.decide().rank, r);
      if (r < n) assert.ok(stream.columns <= r + 64 + 32, `rank ${r} took ${stream.columns} columns`);
    }
  });
});

/** A small network as an AttackNetwork: conv → activation → dense (4 classes). */
function smallNet(
  input: [number, number, number],
  conv: { filters: number; kernel: number; stride: number; pads: number },
  activation: 'tanh' | 'leakyRelu',
): AttackNetwork {
  const net = new IrNet([1, ...input], 3);
  let x = net.conv(net.input, conv.filters, conv.kernel, { stride: conv.stride, pads: conv.pads });
  x = activation === 'tanh' ? net.act(x, 'tanh') : net.act(x, 'leakyRelu', { alpha: 0.2 });
  return AttackNetwork.fromGraph(net.build(net.dense(net.flatten(x), 4)) as LayerGraph);
}

/** The dense Jacobian of the named parameter gradients (in the graph's parameter order) by central differences. */
function denseJacobian(net: AttackNetwork, x: Float64Array, label: number, names: string[]): Float64Array[] {
  const gradients = (image: Float64Array): Float64Array => {
    const { trace, step } = net.trainingStep(image, label);
    const named = net.namedGradients(step, trace);
    return Float64Array.from(names.flatMap((name) => [...named.get(name)!.values]));
  };
  const h = 1e-5;
  const columns: Float64Array[] = [];
  for (let j = 0; j < x.length; j++) {
    const plus = x.slice();
    const minus = x.slice();
    plus[j] += h;
    minus[j] -= h;
    const gp = gradients(plus);
    const gm = gradients(minus);
    columns.push(gp.map((v, i) => (v - gm[i]) / (2 * h)));
  }
  return columns;
}

/** Numerical rank of the matrix whose columns are given, at TOLERANCE·σ_max (pivoted QR). */
function denseRank(columns: Float64Array[], rows?: [number, number]): number {
  const [from, to] = rows ?? [0, columns[0].length];
  const m = to - from;
  const n = columns.length;
  const A = { rows: m, cols: n, data: new Float64Array(m * n) };
  for (let j = 0; j < n; j++) for (let i = 0; i < m; i++) A.data[i * n + j] = columns[j][from + i];
  return qrcp(A, { relTol: TOLERANCE }).rank;
}

describe("J's rank from Jᵀu products against a dense Jacobian", () => {
  const cases: [string, AttackNetwork][] = [
    ['a stride-2 conv with 2 filters and tanh (deficient)', smallNet([3, 6, 6], { filters: 2, kernel: 3, stride: 2, pads: 0 }, 'tanh')],
    ['a 4-filter conv with LeakyReLU on a 1×5×5 image (full rank)', smallNet([1, 5, 5], { filters: 4, kernel: 3, stride: 1, pads: 1 }, 'leakyRelu')],
  ];
  for (const [name, net] of cases) {
    test(`${name}: whole model and per layer`, async () => {
      const rng = createRng(11);
      const x = Float64Array.from({ length: net.inputShape.reduce((a, b) => a * b, 1) }, () => rng.uniform());
      // Both sides at the same (float32-representable) image.
      const x32 = Float64Array.from(Float32Array.from(x));
      const result = await analyseIdentifiability(net, x32, createJacobianProductSession, {
        label: 1,
        maxColumns: Infinity,
        layerColumns: Infinity,
        timeBudgetSeconds: Infinity,
      });
      const blocks = layerBlocks(lowerNetwork(net));
      const names = blocks.flatMap((b) => b.parameters);
      const J = denseJacobian(net, x32, 1, names);
      assert.equal(result.method, 'exact');
      assert.equal(result.unknowns, x.length);
      assert.equal(result.rank, denseRank(J));
      let offset = 0;
      for (const [i, block] of blocks.entries()) {
        assert.equal(result.layers[i].name, net.graph.nodes.find((n) => n.id === block.nodeId)!.name);
        assert.equal(result.layers[i].parameters, block.size);
        assert.equal(result.layers[i].rank, denseRank(J, [offset, offset + block.size]), `layer ${result.layers[i].name}`);
        offset += block.size;
      }
      if (name.includes('deficient')) assert.ok(result.rank < result.unknowns);
      else assert.equal(result.rank, result.unknowns);
    });
  }

  test('a column cap below the rank gives a lower bound, which is partial identifiability (medium)', async () => {
    const net = cases[1][1];
    const x = new Float64Array(25).fill(0.5);
    const result = await analyseIdentifiability(net, x, createJacobianProductSession, { label: 0, maxColumns: 8, perLayer: false });
    assert.equal(result.method, 'lower-bound');
    assert.equal(result.rank, 8);
    const evidence = identifiabilityEvidence({ ...result, file: 'x', image: 'x.png', label: 0 }, THRESHOLDS);
    assert.equal(evidence.kind === 'gradient-matching' && evidence.identifiable, 'partial');
    assert.equal(evidence.severity, 'medium');
  });

  test('an image over the exact limit is ranked on a centre patch', () => {
    assert.equal(patchOf([3, 32, 32], 3072), undefined);
    const patch = patchOf([3, 224, 224], 3072)!;
    assert.ok(3 * patch.height * patch.width <= 3072 && patch.height === 32 && patch.width === 32);
    assert.deepEqual([patch.top, patch.left], [96, 96]);
  });
});

describe('the verdict rule for the Jacobian rank', () => {
  const rankReport = (rank: number, unknowns: number, method: 'exact' | 'lower-bound' = 'exact'): IdentifiabilityReport => ({
    file: 'm.onnx',
    image: 'a.png',
    label: 0,
    rank,
    unknowns,
    method,
    columns: rank + 16,
    relativeTolerance: TOLERANCE,
    layers: [],
  });
  const closedForm = (severity: 'high' | 'low', risk: number): Evidence => ({
    kind: 'closed-form',
    severity,
    risk,
    reachesImage: severity === 'high',
    stops: [],
  });
  const attack = (outcome: 'resisted' | 'rebuilt'): Evidence => ({
    kind: 'attack',
    method: 'closed-form attack',
    outcome,
    images: 2,
    rebuilt: outcome === 'rebuilt' ? 1 : 0,
    ...(outcome === 'rebuilt' ? { severity: 'high' as const } : {}),
    budget: 'one step, no iterations',
  });

  test('full rank is identifiable (high), unless an attack at its budget resisted (medium)', () => {
    const full = identifiabilityEvidence(rankReport(3072, 3072), THRESHOLDS);
    assert.equal(decideVerdict([closedForm('low', 0.1), full], THRESHOLDS).severity, 'high');
    assert.match(decideVerdict([closedForm('low', 0.1), full], THRESHOLDS).headline, /locally identifiable.*rank 3072 of 3072/);
    assert.equal(decideVerdict([closedForm('low', 0.1), full, attack('resisted')], THRESHOLDS).severity, 'medium');
    assert.equal(decideVerdict([closedForm('low', 0.1), full, attack('rebuilt')], THRESHOLDS).severity, 'high');
  });

  test('a deficient rank or a lower bound is partly identifiable (medium), and never lowers a verdict', () => {
    for (const partial of [
      identifiabilityEvidence(rankReport(251, 3072), THRESHOLDS),
      identifiabilityEvidence(rankReport(512, 3072, 'lower-bound'), THRESHOLDS),
    ]) {
      const alone = decideVerdict([closedForm('low', 0.1), partial], THRESHOLDS);
      assert.equal(alone.severity, 'medium');
      assert.match(alone.headline, /partly identifiable/);
      assert.equal(decideVerdict([closedForm('high', 0.9), partial], THRESHOLDS).severity, 'high');
    }
  });
});

describe('the generated fixtures', () => {
  /** The audit's rank (default caps unless given; no time budget, so a loaded machine cannot cut it short). */
  async function audited(name: string, caps: { maxColumns?: number; perLayer: boolean }): Promise<{ report: ModelReport; rank: IdentifiabilityReport }> {
    const file = path.join(FIXTURES, name, 'model.onnx');
    const outcome = await auditFile(file, { ...defaultConfig(ROOT), fixes: false }, { files, trusted: true });
    assert.equal(outcome.kind, 'report');
    const net = AttackNetwork.fromGraph(await readModel(files, file));
    const [sample] = await loadSampleImages(files, SAMPLES, net.inputShape, { mean: [0], std: [1] }, { limit: 1 });
    const analysis = await analyseIdentifiability(net, sample.input, createJacobianProductSession, { label: 0, ...caps, timeBudgetSeconds: Infinity });
    const rank: IdentifiabilityReport = { file, image: sample.name, label: 0, ...analysis };
    const report = (outcome as { report: ModelReport }).report;
    return { report: withEvidence(report, [identifiabilityEvidence(rank, report.thresholds)]), rank };
  }

  test('the VGG-style net has a full-rank J within the default caps: identifiable, high where the static rule said medium', async () => {
    const { report, rank } = await audited('vgg-style', { perLayer: false });
    assert.deepEqual([rank.rank, rank.unknowns, rank.method], [3072, 3072, 'exact']);
    assert.equal(report.model.severity, 'high');
    assert.match(report.model.verdict.headline, /locally identifiable/);
  });

  test('the conv/BN/max-pool net is rank-deficient at the first sample (exact within the default caps): partly identifiable, medium', async () => {
    // A float64 SVD of the same products (numpy) gives 2542 here, with a gap from 5e-4 to 1.5e-8 of σ_max.
    const { report, rank } = await audited('conv-bn-maxpool', { perLayer: false });
    assert.deepEqual([rank.rank, rank.unknowns, rank.method], [2542, 3072, 'exact']);
    assert.equal(report.model.severity, 'medium');
    assert.match(report.model.verdict.headline, /partly identifiable/);
  });

  test('the hybrid-code cnn2_c0 (one stride-2 filter) has a deficient J: partly identifiable, medium; conv_1 carries at most its 27 weights', async () => {
    const { report, rank } = await audited('cnn2_c0', { maxColumns: 512, perLayer: true });
    assert.equal(rank.method, 'exact');
    assert.ok(rank.rank < rank.unknowns / 4, `rank ${rank.rank}`);
    assert.equal(report.model.severity, 'medium');
    assert.match(report.model.verdict.headline, /partly identifiable/);
    const conv = rank.layers.find((l) => l.name === 'conv_1')!;
    assert.deepEqual([conv.rank, conv.parameters, conv.method], [27, 27, 'exact']);
  });
});

describe("J's rank against PyTorch (float64 products, SVD: scripts/torch/reference_jacobian_ranks.py)", () => {
  const reference = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/torch/jacobian-ranks.json'), 'utf8')) as {
    tolerance: number;
    cases: Record<string, { image: string; label: number; unknowns: number; rank: number; smallestKept: number; largestDropped: number; model_sha256: string }>;
  };
  for (const [name, expected] of Object.entries(reference.cases)) {
    test(`${name} at ${expected.image}, label ${expected.label}: rank ${expected.rank} of ${expected.unknowns}`, async () => {
      const file = path.join(FIXTURES, name, 'model.onnx');
      assert.equal(createHash('sha256').update(fs.readFileSync(file)).digest('hex'), expected.model_sha256, 'the reference was made from this model file');
      // A clean gap in torch's spectrum, so the float32 products must find the same rank.
      assert.ok(expected.smallestKept > 100 * expected.largestDropped);
      const net = AttackNetwork.fromGraph(await readModel(files, file));
      const x = torchReferenceInput(path.join(ROOT, 'test/fixtures/sample-images/32x32', `${expected.image}.png`), [1, ...net.inputShape]);
      const result = await analyseIdentifiability(net, x, createJacobianProductSession, {
        label: expected.label,
        perLayer: false,
        timeBudgetSeconds: Infinity,
        relativeTolerance: reference.tolerance,
      });
      assert.deepEqual([result.rank, result.unknowns, result.method], [expected.rank, expected.unknowns, 'exact']);
    });
  }
});
