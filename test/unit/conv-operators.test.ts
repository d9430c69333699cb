// Operator checks of docs/algorithm.md §8.1–8.2: the matrix-free convolution / fully-connected maps against direct
// implementations written from the definitions of §1 and §3.2 (no shared code with the operators).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convGeometry, describeGeometry, uncoveredPixels, coveredMask, type ConvGeometry, type ConvGeometryInit } from '../../src/engine/numerics/convGeometry';
import { ConvOperator, FullyConnectedOperator, convCrossGram } from '../../src/engine/numerics/convOperators';
import { bandIndex } from '../../src/engine/numerics/bandCholesky';
import { matVec } from '../../src/engine/numerics/dense';
import { csrMatVec, csrMatTVec } from '../../src/engine/numerics/sparse';
import { gaussianArray } from '../../src/engine/numerics/random';

// ---------------------------------------------------------------------------------------------------------------
// Reference implementations straight from the definitions

/** z[f,u,v] = Σ_{c',a,b'} W[f,c',a,b'] · x̃[γ(f)·C/g + c', u s_h + a d_h − p_t, v s_w + b' d_w − p_l]. */
function naiveConv(g: ConvGeometry, W: Float64Array, x: Float64Array): Float64Array {
  const [kh, kw] = g.kernel;
  const cg = g.inChannels / g.groups;
  const fg = g.outChannels / g.groups;
  const z = new Float64Array(g.outChannels * g.outHeight * g.outWidth);
  const xt = (c: number, i: number, j: number): number => (i < 0 || j < 0 || i >= g.height || j >= g.width ? 0 : x[(c * g.height + i) * g.width + j]);
  for (let f = 0; f < g.outChannels; f++) {
    const gamma = Math.floor(f / fg);
    for (let u = 0; u < g.outHeight; u++) {
      for (let v = 0; v < g.outWidth; v++) {
        let s = 0;
        for (let cp = 0; cp < cg; cp++)
          for (let a = 0; a < kh; a++)
            for (let b = 0; b < kw; b++) {
              const w = W[((f * cg + cp) * kh + a) * kw + b];
              s += w * xt(gamma * cg + cp, u * g.strides[0] + a * g.dilations[0] - g.pads[0], v * g.strides[1] + b * g.dilations[1] - g.pads[1]);
            }
        z[(f * g.outHeight + u) * g.outWidth + v] = s;
      }
    }
  }
  return z;
}

function inner(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** |a − b| ≤ tol·max(1, |a|, |b|) elementwise-scale check. */
function assertClose(a: Float64Array, b: Float64Array, tol: number, what: string): void {
  const scale = Math.max(1, maxAbs(a), maxAbs(b));
  const d = maxAbsDiff(a, b);
  assert.ok(d <= tol * scale, `${what}: max difference ${d} (scale ${scale})`);
}

function unit(n: number, k: number): Float64Array {
  const e = new Float64Array(n);
  e[k] = 1;
  return e;
}

// ---------------------------------------------------------------------------------------------------------------

const variants: [string, ConvGeometryInit][] = [
  ['plain 3×3, pad 1', { inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, pads: 1 }],
  ['asymmetric pads', { inChannels: 2, height: 7, width: 9, outChannels: 3, kernel: 3, strides: 2, pads: [1, 0, 2, 1] }],
  ['non-square input and kernel', { inChannels: 2, height: 6, width: 11, outChannels: 3, kernel: [2, 4], strides: [1, 2], pads: [0, 1, 1, 2] }],
  ['stride 3', { inChannels: 2, height: 11, width: 10, outChannels: 3, kernel: 3, strides: 3, pads: 1 }],
  ['stride larger than kernel', { inChannels: 1, height: 10, width: 10, outChannels: 2, kernel: 2, strides: 3, pads: 0 }],
  ['dilation 2', { inChannels: 2, height: 9, width: 9, outChannels: 3, kernel: 3, dilations: 2, pads: 2 }],
  ['dilation with stride', { inChannels: 2, height: 12, width: 9, outChannels: 2, kernel: [3, 2], strides: [2, 1], dilations: [2, 3], pads: [1, 2, 0, 1] }],
  ['groups 2', { inChannels: 4, height: 7, width: 7, outChannels: 6, kernel: 3, pads: 1, groups: 2 }],
  ['depthwise', { inChannels: 4, height: 8, width: 6, outChannels: 4, kernel: 3, strides: 2, pads: [1, 1, 1, 1], groups: 4 }],
  ['depthwise with multiplier 2', { inChannels: 3, height: 7, width: 8, outChannels: 6, kernel: 3, pads: [0, 1, 2, 1], groups: 3 }],
  [
    'everything at once',
    { inChannels: 6, height: 10, width: 13, outChannels: 9, kernel: [3, 2], strides: [2, 3], dilations: [2, 1], pads: [2, 0, 1, 3], groups: 3 },
  ],
  ['1×1 conv', { inChannels: 5, height: 4, width: 5, outChannels: 3, kernel: 1 }],
  [
    'TF same padding 5×5 stride 2 (extra pad bottom/right)',
    { inChannels: 2, height: 10, width: 10, outChannels: 3, kernel: 5, strides: 2, pads: [1, 1, 2, 2] },
  ],
];

describe('convGeometry', () => {
  it('derives output sizes and counts (§1, §4.1)', () => {
    const g = convGeometry({ inChannels: 12, height: 17, width: 17, outChannels: 20, kernel: 3, strides: 2, pads: 1 });
    assert.equal(g.outHeight, 9);
    assert.equal(g.outWidth, 9);
    assert.equal(g.nX, 3468);
    assert.equal(g.nZ, 1620);
    assert.equal(g.nW, 2160);
    assert.match(describeGeometry(g), /12×17×17 → Conv\(20, k3, s2, p1\) → 20×9×9/);
    const d = convGeometry({ inChannels: 3, height: 7, width: 8, outChannels: 6, kernel: 3, pads: [0, 1, 2, 1], groups: 3 });
    assert.equal(d.outHeight, 7);
    assert.equal(d.outWidth, 8);
    assert.equal(d.nW, 6 * 1 * 9);
  });

  it('rejects impossible geometries', () => {
    assert.throws(() => convGeometry({ inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, groups: 2 }), RangeError);
    assert.throws(() => convGeometry({ inChannels: 3, height: 2, width: 8, outChannels: 4, kernel: 3 }), RangeError);
    assert.throws(() => convGeometry({ inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, strides: 0 }), RangeError);
    assert.throws(() => convGeometry({ inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, pads: -1 }), RangeError);
  });

  it('counts uncovered pixels from the index maps (§4.2 effect 1)', () => {
    // cnn2_c6: 3×32×32 → Conv(12, k5, s2, p0): row and column 31 are never seen
    const g = convGeometry({ inChannels: 3, height: 32, width: 32, outChannels: 12, kernel: 5, strides: 2 });
    assert.equal(g.outHeight, 14);
    assert.equal(uncoveredPixels(g), 189);
    // brute force over the definition: a pixel is covered iff some (u, a) and (v, b') reach it
    for (const [, init] of variants) {
      const h = convGeometry(init);
      let seen = 0;
      for (let i = 0; i < h.height; i++) {
        for (let j = 0; j < h.width; j++) {
          let rowOk = false;
          let colOk = false;
          for (let u = 0; u < h.outHeight; u++) for (let a = 0; a < h.kernel[0]; a++) if (u * h.strides[0] + a * h.dilations[0] - h.pads[0] === i) rowOk = true;
          for (let v = 0; v < h.outWidth; v++) for (let b = 0; b < h.kernel[1]; b++) if (v * h.strides[1] + b * h.dilations[1] - h.pads[1] === j) colOk = true;
          if (rowOk && colOk) seen++;
        }
      }
      assert.equal(uncoveredPixels(h), h.inChannels * (h.height * h.width - seen), describeGeometry(h));
      const mask = coveredMask(h);
      assert.equal(
        mask.reduce((s, v) => s + v, 0),
        seen,
      );
    }
    // stride larger than the kernel: gaps between windows
    const s3 = convGeometry({ inChannels: 1, height: 10, width: 10, outChannels: 2, kernel: 2, strides: 3 });
    assert.equal(uncoveredPixels(s3), 100 - 6 * 6);
  });
});

describe('ConvOperator (§3.2, §8.1)', () => {
  let seed = 100;
  for (const [name, init] of variants) {
    it(name, () => {
      const g = convGeometry(init);
      const op = new ConvOperator(g);
      const W = gaussianArray(g.nW, seed++);
      const x = gaussianArray(g.nX, seed++);
      const dz = gaussianArray(g.nZ, seed++);
      const gw = gaussianArray(g.nW, seed++);

      // forward = direct convolution
      const z = op.forward(W, x);
      assertClose(z, naiveConv(g, W, x), 1e-12, 'W_op x');

      // weight gradient = ∂/∂W ⟨δz, conv(W, x)⟩, by linearity: G[k] = ⟨δz, conv(e_k, x)⟩
      const G = op.gradient(dz, x);
      const Gref = new Float64Array(g.nW);
      for (let k = 0; k < g.nW; k++) Gref[k] = inner(dz, naiveConv(g, unit(g.nW, k), x));
      assertClose(G, Gref, 1e-12, 'K(δz) x');

      // input gradient = ∂/∂x ⟨δz, conv(W, x)⟩: δx[j] = ⟨δz, conv(W, e_j)⟩
      const dx = op.forwardTranspose(W, dz);
      const dxRef = new Float64Array(g.nX);
      for (let j = 0; j < g.nX; j++) dxRef[j] = inner(dz, naiveConv(g, W, unit(g.nX, j)));
      assertClose(dx, dxRef, 1e-12, 'W_opᵀ δz');

      // adjoint identities
      const y = gaussianArray(g.nZ, seed++);
      const lhs1 = inner(op.forward(W, x), y);
      const rhs1 = inner(x, op.forwardTranspose(W, y));
      assert.ok(Math.abs(lhs1 - rhs1) <= 1e-12 * Math.max(1, Math.abs(lhs1)), `⟨W x, y⟩ ${lhs1} vs ⟨x, Wᵀy⟩ ${rhs1}`);
      const lhs2 = inner(op.gradient(dz, x), gw);
      const rhs2 = inner(x, op.gradientTranspose(dz, gw));
      assert.ok(Math.abs(lhs2 - rhs2) <= 1e-12 * Math.max(1, Math.abs(lhs2)), `⟨K x, g⟩ ${lhs2} vs ⟨x, Kᵀg⟩ ${rhs2}`);

      // conv cross identity (§3.2): Σ W[f'] G[f] = Σ_{u,v} δz[f]·z[f'] for f, f' in the same group (bias-free z)
      const cross = convCrossGram(g, W, G);
      const HoWo = g.outHeight * g.outWidth;
      const fg = g.outChannels / g.groups;
      for (let f = 0; f < g.outChannels; f++) {
        for (let f2 = 0; f2 < g.outChannels; f2++) {
          if (Math.floor(f / fg) !== Math.floor(f2 / fg)) continue;
          let s = 0;
          for (let p = 0; p < HoWo; p++) s += dz[f * HoWo + p] * z[f2 * HoWo + p];
          assert.ok(Math.abs(cross[f * g.outChannels + f2] - s) <= 1e-12 * Math.max(1, Math.abs(s)), `cross identity (${f}, ${f2})`);
        }
      }

      // sparse and dense builders agree with the matrix-free maps, in both layouts
      const Wc = op.forwardCsr(W);
      assertClose(csrMatVec(Wc, x), z, 1e-13, 'forwardCsr');
      assertClose(csrMatTVec(Wc, y), op.forwardTranspose(W, y), 1e-13, 'forwardCsrᵀ');
      const Kc = op.gradientCsr(dz);
      assertClose(csrMatVec(Kc, x), G, 1e-13, 'gradientCsr');
      assertClose(csrMatTVec(Kc, gw), op.gradientTranspose(dz, gw), 1e-13, 'gradientCsrᵀ');
      assertClose(matVec(op.forwardDense(W), x), z, 1e-13, 'forwardDense');
      assertClose(matVec(op.gradientDense(dz), x), G, 1e-13, 'gradientDense');
      // HWC layout: permute x and z
      const xh = new Float64Array(g.nX);
      for (let c = 0; c < g.inChannels; c++)
        for (let i = 0; i < g.height; i++) for (let j = 0; j < g.width; j++) xh[op.inputIndex(c, i, j, 'hwc')] = x[op.inputIndex(c, i, j)];
      const zh = csrMatVec(op.forwardCsr(W, 'hwc'), xh);
      for (let f = 0; f < g.outChannels; f++)
        for (let u = 0; u < g.outHeight; u++)
          for (let v = 0; v < g.outWidth; v++) {
            const a = zh[op.outputIndex(f, u, v, 'hwc')];
            const b = z[op.outputIndex(f, u, v)];
            assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), 'hwc layout');
          }
      assertClose(csrMatVec(op.gradientCsr(dz, 'hwc'), xh), G, 1e-13, 'gradientCsr hwc');

      // some taps only = the kernel with the other taps zeroed
      const [kh, kw] = g.kernel;
      const taps = Uint8Array.from({ length: kh * kw }, (_, t) => (t % 3 === 1 ? 1 : 0));
      const Wtaps = W.map((w, k) => (taps[k % (kh * kw)] ? w : 0));
      assertClose(op.forward(W, x, undefined, taps), op.forward(Wtaps, x), 0, 'forward over some taps');
      assertClose(op.forwardTranspose(W, y, undefined, taps), op.forwardTranspose(Wtaps, y), 0, 'forwardTranspose over some taps');

      // the band of W_opᵀ D W_op (D: some rows dropped, others weighted) holds every non-zero of the dense product
      const weights = Float64Array.from({ length: g.nZ }, (_, r) => (r % 5 === 0 ? 0 : r % 7 === 0 ? 2.5 : 1));
      const band = op.forwardNormalBand(W, weights);
      const { position, bandwidth } = op.bandOrder();
      const Wd = op.forwardDense(W);
      for (let p = 0; p < g.nX; p++) {
        for (let q = 0; q <= p; q++) {
          let ref = 0;
          for (let r = 0; r < g.nZ; r++) ref += weights[r] * Wd.data[r * g.nX + p] * Wd.data[r * g.nX + q];
          const [hi, lo] = position[p] >= position[q] ? [position[p], position[q]] : [position[q], position[p]];
          if (hi - lo > bandwidth) {
            assert.ok(Math.abs(ref) <= 1e-13, `outside the band: (${p}, ${q}) ${ref}`);
            continue;
          }
          const got = band.data[bandIndex(band, hi, lo)];
          assert.ok(Math.abs(got - ref) <= 1e-12 * Math.max(1, Math.abs(ref)), `WᵀDW (${p}, ${q}): ${got} vs ${ref}`);
        }
      }

      // output buffers are overwritten, not accumulated into
      const buf = new Float64Array(g.nZ).fill(7);
      assertClose(op.forward(W, x, buf), z, 0, 'forward into a dirty buffer');
    });
  }

  it('rejects wrongly sized arrays', () => {
    const g = convGeometry({ inChannels: 2, height: 5, width: 5, outChannels: 3, kernel: 3 });
    const op = new ConvOperator(g);
    assert.throws(() => op.forward(new Float64Array(g.nW + 1), new Float64Array(g.nX)), RangeError);
    assert.throws(() => op.gradient(new Float64Array(g.nZ), new Float64Array(g.nX - 1)), RangeError);
  });
});

describe('FullyConnectedOperator (§3.1)', () => {
  const m = 7;
  const n = 11;
  const op = new FullyConnectedOperator(n, m);
  const W = gaussianArray(m * n, 1);
  const b = gaussianArray(m, 2);
  const x = gaussianArray(n, 3);
  const dz = gaussianArray(m, 4);

  it('forward, gradients and adjoints', () => {
    const z0 = op.forward(W, x);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += W[i * n + j] * x[j];
      assert.ok(Math.abs(z0[i] - s) <= 1e-13 * Math.max(1, Math.abs(s)));
    }
    const G = op.gradient(dz, x);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) assert.equal(G[i * n + j], dz[i] * x[j]);
    const y = gaussianArray(m, 5);
    const gw = gaussianArray(m * n, 6);
    assert.ok(Math.abs(inner(op.forward(W, x), y) - inner(x, op.forwardTranspose(W, y))) < 1e-12);
    assert.ok(Math.abs(inner(op.gradient(dz, x), gw) - inner(x, op.gradientTranspose(dz, gw))) < 1e-12);
    assertClose(csrMatVec(op.gradientCsr(dz), x), G, 1e-14, 'gradientCsr');
    assertClose(csrMatVec(op.forwardCsr(W), x), z0, 1e-14, 'forwardCsr');
  });

  it('identity G Wᵀ = δz (z − b)ᵀ', () => {
    const z = op.forward(W, x);
    for (let i = 0; i < m; i++) z[i] += b[i];
    const G = op.gradient(dz, x);
    for (let j = 0; j < m; j++) {
      for (let j2 = 0; j2 < m; j2++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += G[j * n + k] * W[j2 * n + k];
        const rhs = dz[j] * (z[j2] - b[j2]);
        assert.ok(Math.abs(s - rhs) <= 1e-12 * Math.max(1, Math.abs(rhs)), `(${j}, ${j2})`);
      }
    }
  });

  it('recovers the input in closed form from a rank-one gradient', () => {
    const G = op.gradient(dz, x);
    const xr = FullyConnectedOperator.inputFromGradient(G, dz, n);
    assert.ok(xr);
    assertClose(xr, x, 1e-13, 'x = Gᵀδz/‖δz‖²');
    assert.equal(FullyConnectedOperator.inputFromGradient(G, new Float64Array(m), n), null);
  });
});
