// Ranks and counts of the per-layer systems (docs/algorithm.md §4.1, §4.2, §4.5, §8.3); the numerics they use are tested in numerics.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convGeometry, type ConvGeometry, type ConvGeometryInit } from '../../src/engine/numerics/convGeometry';
import { ConvOperator } from '../../src/engine/numerics/convOperators';
import { convLayerRank } from '../../src/engine/analysis/layerRank/convLayerRank';
import { convRankBounds } from '../../src/engine/analysis/layerRank/convStructure';
import { fullyConnectedLayerRank } from '../../src/engine/analysis/layerRank/fullyConnectedRank';
import type { LayerRankResult } from '../../src/engine/analysis/layerRank/types';
import { zeros, type DenseMatrix } from '../../src/engine/numerics/dense';
import { denseOperator } from '../../src/engine/numerics/linearOperator';
import { estimateNorm2 } from '../../src/engine/numerics/normEstimate';
import { numericalRank } from '../../src/engine/numerics/qr';
import { createRng, gaussianArray } from '../../src/engine/numerics/random';
import { CNN6, CNN6D, chain, type ConvSpec } from './rgap-networks';

// ---------------------------------------------------------------------------------------------------------------
// Networks of §4.5: conv stacks on a 3×32×32 input; each layer's input shape is the previous layer's output.

const memo = new Map<string, LayerRankResult>();
function rankOf(g: ConvGeometry, seed = 1): LayerRankResult {
  const key = `${g.inChannels}x${g.height}x${g.width}|${g.outChannels},${g.kernel},${g.strides},${g.pads},${g.dilations},${g.groups}|${seed}`;
  let r = memo.get(key);
  if (!r) {
    r = convLayerRank(g, { seed });
    memo.set(key, r);
  }
  return r;
}

describe('§4.5 R-GAP CNN6 (Gaussian weights and δz)', () => {
  const table: [nX: number, nW: number, nZ: number, rankK: number, rankW: number, rankU: number][] = [
    [3072, 576, 3468, 576, 3072, 3072],
    [3468, 3888, 2916, 2928, 2916, 3468],
    [2916, 11664, 2916, 2916, 2916, 2916],
    [2916, 11664, 2916, 2916, 2916, 2916],
    [2916, 20736, 1600, 2916, 1600, 2916],
    [1600, 73728, 3200, 1600, 1600, 1600],
  ];
  const layers = chain(CNN6);
  layers.forEach((g, i) => {
    it(`layer ${i + 1}: ${table[i].slice(3).join(', ')}, deficiency 0`, () => {
      const r = rankOf(g, 10 + i);
      const [nX, nW, nZ, rK, rW, rU] = table[i];
      assert.deepEqual([r.nX, r.nW, r.nZ], [nX, nW, nZ]);
      assert.equal(r.naive, nX - nW - nZ);
      assert.deepEqual([r.rankK, r.rankW, r.rankU, r.deficiency], [rK, rW, rU, 0], JSON.stringify(r.notes));
      assert.equal(r.method, 'structured');
      assert.deepEqual(r.rankSource, { K: 'numeric', W: 'numeric', U: 'numeric' });
      assert.equal(r.uncoveredPixels, 0);
      assert.equal(r.fragile, false);
    });
  });
});

describe('§4.5 R-GAP CNN6-d', () => {
  const layers = chain(CNN6D);
  it('layer 2: rank K 1968, rank W 1620, rank U 3188, deficiency 280', () => {
    const r = rankOf(layers[1], 2);
    assert.deepEqual([r.nX, r.nW, r.nZ, r.naive], [3468, 2160, 1620, -312]);
    assert.deepEqual([r.rankK, r.rankW, r.rankU, r.deficiency], [1968, 1620, 3188, 280], JSON.stringify(r.notes));
    assert.equal(r.method, 'structured');
  });
  it('lattice bound on rank K is 1968 and D is 20² (§4.2 effects 2 and 3)', () => {
    const b = convRankBounds(layers[1]);
    assert.equal(b.bounds.latticeRankK, 1968);
    assert.equal(b.bounds.crossDependency, 400);
    const r = rankOf(layers[1], 2);
    assert.equal(r.bounds.closedFormDeficiency, 280);
  });
  it('layer 3 is determined again: rank U = n_x = 1620', () => {
    const r = rankOf(layers[2], 3);
    assert.deepEqual([r.rankK, r.rankW, r.rankU, r.deficiency], [1620, 1620, 1620, 0]);
  });
});

describe('§4.5 hybrid-code target networks (per-layer deficiencies)', () => {
  const nets: [string, ConvSpec[], number[]][] = [
    ['cnn2_c0', [[1, 3, 2, 0]], [2821]],
    ['cnn2_c1', [[6, 3, 1, 0]], [0]],
    ['cnn2_c2', [[6, 4, 2, 0]], [1470]],
    ['cnn2_c4', [[1, 3, 1, 0]], [2146]],
    ['cnn2_c6', [[12, 5, 2, 0]], [189]],
    [
      'cnn3_c1',
      [
        [6, 3, 1, 0],
        [3, 4, 2, 0],
      ],
      [0, 4533],
    ],
    [
      'cnn3_c2',
      [
        [6, 4, 2, 0],
        [3, 3, 2, 0],
      ],
      [1470, 1050],
    ],
    [
      'cnn3_c5',
      [
        [12, 5, 1, 1],
        [12, 5, 2, 2],
      ],
      [0, 4644],
    ],
    [
      'cnn4_c1',
      [
        [6, 3, 1, 0],
        [5, 4, 2, 0],
        [3, 4, 1, 0],
      ],
      [0, 3965, 386],
    ],
  ];
  for (const [name, specs, defs] of nets) {
    it(`${name}: ${defs.join(', ')}`, () => {
      const got = chain(specs).map((g) => {
        const r = rankOf(g, 7);
        // a bound fallback (large layer over the default budget) must still rest on numerical rank K and rank W
        if (r.method === 'bound') assert.deepEqual([r.rankSource.K, r.rankSource.W], ['numeric', 'numeric'], `${name}: ${r.notes.join('; ')}`);
        return r.deficiency;
      });
      assert.deepEqual(got, defs);
    });
  }
  it('cnn2_c6: the deficiency is exactly the 189 uncovered border pixels (naive −180)', () => {
    const [g] = chain([[12, 5, 2, 0]]);
    const r = rankOf(g, 7);
    assert.equal(r.uncoveredPixels, 189);
    assert.equal(r.nCovered, 3072 - 189);
    assert.equal(r.naive, -180);
    assert.equal(r.rankU, r.nCovered);
  });
  it('cnn2_c0: rank U = 251', () => {
    const [g] = chain([[1, 3, 2, 0]]);
    assert.equal(rankOf(g, 7).rankU, 251);
  });
});

/**
 * Independent reference: K(δz) and W_op from the operator builders, forward rows restricted to `active` (if given),
 * U = [K/‖K‖; W/‖W‖], ranks by QRCP.
 */
function explicitRanks(g: ConvGeometry, W: Float64Array, dz: Float64Array, active?: Uint8Array): { rankK: number; rankW: number; rankU: number } {
  const op = new ConvOperator(g);
  const K = op.gradientDense(dz);
  const Wall = op.forwardDense(W);
  const rows: number[] = [];
  for (let i = 0; i < g.nZ; i++) if (!active || active[i]) rows.push(i);
  const Wd = zeros(rows.length, g.nX);
  rows.forEach((r, k) => Wd.data.set(Wall.data.subarray(r * g.nX, (r + 1) * g.nX), k * g.nX));
  const norm = (A: DenseMatrix): number => (A.rows ? estimateNorm2(denseOperator(A), { relTol: 1e-8, maxIter: 500 }) : 0);
  const sK = norm(K);
  const sW = norm(Wd);
  const U = zeros(K.rows + Wd.rows, g.nX);
  for (let i = 0; i < K.data.length; i++) U.data[i] = K.data[i] / (sK || 1);
  for (let i = 0; i < Wd.data.length; i++) U.data[K.data.length + i] = Wd.data[i] / (sW || 1);
  const rank = (A: DenseMatrix): number => (A.rows ? numericalRank(A) : 0);
  return { rankK: rank(K), rankW: rank(Wd), rankU: rank(U) };
}

describe('structured ranks equal the explicitly formed dense U', () => {
  const configs: ConvGeometryInit[] = [
    { inChannels: 2, height: 9, width: 9, outChannels: 3, kernel: 3, strides: 2, pads: 1 },
    { inChannels: 3, height: 7, width: 7, outChannels: 2, kernel: 4, strides: 2, pads: 1 },
    { inChannels: 1, height: 12, width: 12, outChannels: 5, kernel: 3, strides: 3, pads: 0 },
    { inChannels: 2, height: 10, width: 8, outChannels: 3, kernel: [3, 2], strides: [2, 1], pads: [1, 0, 0, 1] },
    { inChannels: 2, height: 9, width: 11, outChannels: 4, kernel: 3, dilations: 2, pads: [2, 1, 0, 2] },
    { inChannels: 4, height: 8, width: 8, outChannels: 6, kernel: 3, strides: 2, pads: 1, groups: 2 },
    { inChannels: 3, height: 9, width: 9, outChannels: 6, kernel: 3, strides: 1, pads: 0, groups: 3 },
    { inChannels: 3, height: 6, width: 6, outChannels: 3, kernel: 2, strides: 3, pads: 1 },
    { inChannels: 2, height: 12, width: 12, outChannels: 1, kernel: 3, strides: 2, pads: 0 },
    { inChannels: 3, height: 10, width: 10, outChannels: 12, kernel: 5, strides: 2, pads: 0 },
  ];
  configs.forEach((init, n) => {
    const g = convGeometry(init);
    it(`config ${n}: ${g.inChannels}×${g.height}×${g.width} → ${g.outChannels}, k${g.kernel}, s${g.strides}, p${g.pads}, d${g.dilations}, g${g.groups}`, () => {
      const seed = 300 + n;
      const s = convLayerRank(g, { seed, method: 'structured' });
      const d = convLayerRank(g, { seed, method: 'dense' });
      assert.equal(s.method, 'structured');
      assert.equal(d.method, 'dense');
      assert.deepEqual([s.rankK, s.rankW, s.rankU], [d.rankK, d.rankW, d.rankU]);
      // independent check: form U = [K/‖K‖; W/‖W‖] from the operator builders and take its QRCP rank
      const rng = createRng(seed);
      const W = rng.fillNormal(new Float64Array(g.nW));
      const dz = rng.fillNormal(new Float64Array(g.nZ));
      assert.deepEqual(explicitRanks(g, W, dz), { rankK: s.rankK, rankW: s.rankW, rankU: s.rankU });
      assert.equal(s.deficiency, g.nX - s.rankU);
      // the bounds are bounds
      assert.ok(s.rankK <= s.bounds.latticeRankK);
      assert.ok(s.rankW <= s.bounds.rankWUpper);
      assert.ok(s.rankU <= s.bounds.rankUUpper);
      assert.ok(s.rankU <= s.nCovered);
    });
  });
});

describe('ReLU: forward rows only for active units (activeOutputs, docs/algorithm.md §5.5)', () => {
  /** Seeded ReLU pattern: a fraction of the units active, δz N(0,1) there and 0 elsewhere. */
  function reluCase(g: ConvGeometry, seed: number, fraction = 0.5): { W: Float64Array; dz: Float64Array; active: Uint8Array } {
    const rng = createRng(seed);
    const W = rng.fillNormal(new Float64Array(g.nW));
    const dz = rng.fillNormal(new Float64Array(g.nZ));
    const active = new Uint8Array(g.nZ);
    for (let i = 0; i < g.nZ; i++) {
      active[i] = rng.uniform() < fraction ? 1 : 0;
      if (!active[i]) dz[i] = 0;
    }
    return { W, dz, active };
  }
  const count = (m: Uint8Array): number => m.reduce((a, b) => a + b, 0);
  const ranks = (r: LayerRankResult) => ({ rankK: r.rankK, rankW: r.rankW, rankU: r.rankU });

  const configs: [ConvGeometryInit, number][] = [
    [{ inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, strides: 1, pads: 1 }, 0.5],
    [{ inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, strides: 1, pads: 1 }, 0.3],
    [{ inChannels: 2, height: 9, width: 9, outChannels: 3, kernel: 3, strides: 2, pads: 1 }, 0.5],
    [{ inChannels: 8, height: 8, width: 8, outChannels: 16, kernel: 3, strides: 2, pads: 1 }, 0.5],
    [{ inChannels: 2, height: 10, width: 8, outChannels: 3, kernel: [3, 2], strides: [2, 1], pads: [1, 0, 0, 1] }, 0.5],
    [{ inChannels: 4, height: 8, width: 8, outChannels: 6, kernel: 3, strides: 2, pads: 1, groups: 2 }, 0.5],
    [{ inChannels: 3, height: 9, width: 9, outChannels: 6, kernel: 3, strides: 1, pads: 0, groups: 3 }, 0.5],
  ];
  configs.forEach(([init, fraction], n) => {
    const g = convGeometry(init);
    it(`config ${n}: ${g.inChannels}×${g.height}×${g.width} → ${g.outChannels}, k${g.kernel}, s${g.strides}, g${g.groups}, ${fraction * 100} % active`, () => {
      const { W, dz, active } = reluCase(g, 500 + n, fraction);
      const opts = { weights: W, outputGradient: dz, activeOutputs: active };
      const s = convLayerRank(g, { ...opts, method: 'structured' });
      const d = convLayerRank(g, { ...opts, method: 'dense' });
      assert.deepEqual([s.method, d.method], ['structured', 'dense']);
      const ref = explicitRanks(g, W, dz, active);
      assert.deepEqual(ranks(s), ref, 'structured');
      assert.deepEqual(ranks(d), ref, 'dense');
      assert.ok(ref.rankW < explicitRanks(g, W, dz).rankW, 'dropping forward rows lowers rank W');
      // counts: n_z = kept rows
      const kept = count(active);
      for (const r of [s, d]) {
        assert.deepEqual([r.nZ, r.nZDropped, r.naive], [kept, g.nZ - kept, g.nX - g.nW - kept]);
        assert.equal(r.deficiency, g.nX - r.rankU);
      }
      // the bounds are bounds, and the closed form (with the masked D) reproduces rank U here
      const b = convLayerRank(g, { ...opts, method: 'bound' });
      assert.deepEqual(b.bounds, convRankBounds(g, active).bounds);
      assert.ok(s.rankK <= b.bounds.latticeRankK);
      assert.ok(s.rankW <= b.bounds.rankWUpper && b.bounds.rankWUpper <= kept);
      assert.ok(s.rankU <= b.bounds.rankUUpper);
      assert.ok(s.rankU <= s.nCovered);
      assert.equal(s.bounds.closedFormRankU, s.rankU, 'closed form with the numerical rank K and rank W');
    });
  });

  it('an all-ones mask gives the unmasked result on every path', () => {
    for (const [init] of [configs[2], configs[5]]) {
      const g = convGeometry(init);
      const all = new Uint8Array(g.nZ).fill(1);
      for (const method of ['structured', 'dense', 'bound'] as const) {
        const plain = convLayerRank(g, { seed: 9, method });
        const masked = convLayerRank(g, { seed: 9, method, activeOutputs: all });
        const strip = (r: LayerRankResult) => ({ ...r, seconds: 0, flops: 0 });
        assert.deepEqual(strip(masked), strip(plain), method);
        assert.equal(masked.nZDropped, 0);
      }
      assert.deepEqual(convRankBounds(g, all), convRankBounds(g));
    }
  });

  it('masking every row: rank W = 0, no forward equations; δz must then be 0 as well', () => {
    for (const [init] of [configs[0], configs[5]]) {
      const g = convGeometry(init);
      const none = new Uint8Array(g.nZ);
      for (const method of ['structured', 'dense', 'bound'] as const) {
        const r = convLayerRank(g, { seed: 4, method, activeOutputs: none });
        assert.deepEqual([r.nZ, r.nZDropped, r.rankW, r.bounds.rankWUpper], [0, g.nZ, 0, 0], method);
        assert.equal(r.nCovered, 0, 'no input entry lies in a kept window');
        if (method !== 'bound') assert.deepEqual([r.rankK, r.rankU, r.deficiency], [0, 0, g.nX], method);
      }
    }
  });

  it('the surrogate δz vanishes on dropped units; a given δz must too', () => {
    const g = convGeometry(configs[2][0]);
    const { active } = reluCase(g, 77);
    // convLayerRank draws W then δz from the seed; the default zeroes δz where the row is dropped
    const rng = createRng(3);
    const W = rng.fillNormal(new Float64Array(g.nW));
    const dz = rng.fillNormal(new Float64Array(g.nZ)).map((v, i) => (active[i] ? v : 0));
    assert.deepEqual(
      ranks(convLayerRank(g, { seed: 3, activeOutputs: active })),
      ranks(convLayerRank(g, { weights: W, outputGradient: dz, activeOutputs: active })),
    );
    const bad = dz.slice();
    bad[active.indexOf(0)] = 1;
    assert.throws(() => convLayerRank(g, { weights: W, outputGradient: bad, activeOutputs: active }), /must be 0/);
    assert.throws(() => convLayerRank(g, { activeOutputs: new Uint8Array(g.nZ + 1) }), /activeOutputs has/);
  });

  it('cross-dependency D: only identities among kept rows (one per filter kept somewhere, for random patterns)', () => {
    // F = 4 filters over 8×8 outputs: the unmasked D is F² = 16; with a random half active, only the f' = f
    // identities stay inside the kept rows (generic: D = F).
    const g = convGeometry(configs[0][0]);
    assert.equal(convRankBounds(g).bounds.crossDependency, 16);
    assert.equal(convRankBounds(g, reluCase(g, 500).active).bounds.crossDependency, 4);
  });

  it('fully connected: rank W and n_z count the kept rows only', () => {
    const m = 30;
    const n = 20;
    const active = new Uint8Array(m);
    for (let i = 0; i < m; i += 3) active[i] = 1; // 10 kept rows
    const r = fullyConnectedLayerRank(n, m, { activeOutputs: active, seed: 2 });
    assert.deepEqual([r.nZ, r.nZDropped, r.rankK, r.rankW, r.rankU, r.deficiency], [10, 20, n, 10, n, 0]);
    assert.equal(r.naive, n - m * n - 10);
    assert.equal(r.bounds.rankWUpper, 10);
    const full = fullyConnectedLayerRank(n, m, { activeOutputs: new Uint8Array(m).fill(1), seed: 2 });
    assert.deepEqual({ ...full, seconds: 0 }, { ...fullyConnectedLayerRank(n, m, { seed: 2 }), seconds: 0 });
    const none = fullyConnectedLayerRank(n, m, { activeOutputs: new Uint8Array(m), seed: 2 });
    assert.deepEqual([none.nZ, none.rankK, none.rankW, none.rankU, none.deficiency], [0, 0, 0, 0, n]);
    assert.throws(() => fullyConnectedLayerRank(n, m, { activeOutputs: active, outputGradient: new Float64Array(m).fill(1) }), /must be 0/);
  });
});

describe('layer rank options and fallbacks', () => {
  it('a 3×224×224 stem layer takes the bound path quickly', () => {
    const g = convGeometry({ inChannels: 3, height: 224, width: 224, outChannels: 64, kernel: 7, strides: 2, pads: 3 });
    const t = performance.now();
    const r = convLayerRank(g);
    const secs = (performance.now() - t) / 1000;
    assert.equal(r.method, 'bound');
    assert.equal(r.rankSource.U, 'bound');
    assert.ok(secs < 3, `took ${secs}s`);
    assert.ok(r.notes.length > 0);
    assert.equal(r.nX, 150528);
    assert.equal(r.deficiency, r.nX - r.rankU);
    assert.ok(r.rankK <= r.bounds.latticeRankK);
  });

  it('bounds only on request', () => {
    const [, g] = chain(CNN6D);
    const r = convLayerRank(g, { method: 'bound' });
    assert.equal(r.method, 'bound');
    assert.equal(r.rankK, 1968); // lattice bound
    assert.equal(r.rankW, 1620); // min(n_z, n_cov)
    assert.equal(r.deficiency, 280); // closed form with the bounds
  });

  it('a tight flop budget falls back to bounds for the expensive stage only', () => {
    const [, g] = chain(CNN6D);
    const r = convLayerRank(g, { maxFlops: 3e8 });
    assert.equal(r.rankSource.K, 'numeric');
    assert.equal(r.rankU, r.bounds.closedFormRankU);
    assert.equal(r.method, 'bound');
  });

  it('uses the given weights and δz: zero δz leaves only the forward rows; ReLU-like zeros reduce rank K', () => {
    const g = convGeometry({ inChannels: 2, height: 8, width: 8, outChannels: 3, kernel: 3, pads: 1 });
    const W = gaussianArray(g.nW, 5);
    const zero = convLayerRank(g, { weights: W, outputGradient: new Float64Array(g.nZ) });
    assert.equal(zero.rankK, 0);
    assert.equal(zero.rankU, zero.rankW);
    const dz = gaussianArray(g.nZ, 6);
    for (let i = 0; i < dz.length; i++) if (i % 64 >= 8) dz[i] = 0; // only the first output row of each channel active
    const sparse = convLayerRank(g, { weights: W, outputGradient: dz, method: 'structured' });
    const dense = convLayerRank(g, { weights: W, outputGradient: dz, method: 'dense' });
    assert.deepEqual([sparse.rankK, sparse.rankU], [dense.rankK, dense.rankU]);
    assert.ok(sparse.rankK < convLayerRank(g, { weights: W }).rankK);
    // scale invariance of the decision: tiny δz (trained model) gives the same ranks
    const small = gaussianArray(g.nZ, 6).map((v) => v * 1e-7);
    const r1 = convLayerRank(g, { weights: W, outputGradient: small });
    const r2 = convLayerRank(g, { weights: W, outputGradient: gaussianArray(g.nZ, 6) });
    assert.deepEqual([r1.rankK, r1.rankW, r1.rankU], [r2.rankK, r2.rankW, r2.rankU]);
  });

  it('flags ill-conditioned operators whose rank depends on the tolerance', () => {
    // singular values 1, 10^-1.7, …, 10^-15.3: no gap around σ_max·max(m,n)·ε
    const n = 10;
    const W = new Float64Array(n * n);
    for (let i = 0; i < n; i++) W[i * n + i] = 10 ** (-1.7 * i);
    const r = fullyConnectedLayerRank(n, n, { weights: W });
    assert.equal(r.fragile, true);
    assert.ok(r.notes.some((x) => x.includes('without a clear gap')));
    const ok = fullyConnectedLayerRank(n, n);
    assert.equal(ok.fragile, false);
    assert.equal(ok.rankW, n);
  });

  it('fully connected: rank K = n_x when δz ≠ 0, deficiency 0', () => {
    const r = fullyConnectedLayerRank(3200, 10, { hasBias: true });
    assert.equal(r.kind, 'fullyConnected');
    assert.deepEqual([r.nX, r.nZ, r.nW, r.nBias], [3200, 10, 32000, 10]);
    assert.deepEqual([r.rankK, r.rankW, r.rankU, r.deficiency], [3200, 10, 3200, 0]);
    assert.equal(r.rankSource.W, 'numeric');
    const z = fullyConnectedLayerRank(20, 5, { outputGradient: new Float64Array(5) });
    assert.deepEqual([z.rankK, z.rankU, z.deficiency], [0, 5, 15]);
  });
});
