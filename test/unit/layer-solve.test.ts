// The conv layer solver returns the minimum-norm least-squares solution of [K(δz); W_op] x = [vec G; z − b]
// (docs/algorithm.md §5.4) on every route, rank-deficient stride-2 layers included: each route's answer is compared
// with the pseudo-inverse solution of the dense stacked matrix, computed here by a one-sided Jacobi SVD.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convGeometry, type ConvGeometryInit } from '../../src/engine/numerics/convGeometry';
import { ConvOperator } from '../../src/engine/numerics/convOperators';
import { EPS, type DenseMatrix } from '../../src/engine/numerics/dense';
import type { LinearOperator } from '../../src/engine/numerics/linearOperator';
import { lsqr } from '../../src/engine/numerics/lsqr';
import { gaussianArray } from '../../src/engine/numerics/random';
import { csrToDense } from '../../src/engine/numerics/sparse';
import { solveConvLayer, solveDense, solveStackedLsqr } from '../../src/engine/attack/layerSolve';
import { solveByForwardBand } from '../../src/engine/attack/layerSolveBanded';
import { factorGradientClasses, solveOverGradientNullSpace } from '../../src/engine/attack/layerSolveNullSpace';
import { ConvLayerSystem } from '../../src/engine/attack/layerSystem';

/**
 * A⁺ b by a one-sided Jacobi SVD (Hestenes) over the shorter side of A: plane rotations R make the vectors (rows of
 * A when m ≤ n, else its columns) mutually orthogonal. Rows: R A = Ũ, A = Rᵀ Ũ, A⁺ b = Σ ũ_i (R b)_i / σ_i².
 * Columns: A Rᵀ = Ũᵀ, A = Ũᵀ R, A⁺ b = Σ r_i (ũ_i·b) / σ_i² (r_i: row i of R). Also the rank and the gap between the
 * smallest kept and the largest dropped singular value.
 */
function pseudoInverseSolve(A: DenseMatrix, b: Float64Array): { x: Float64Array; rank: number; gap: number } {
  const { rows: m, cols: n } = A;
  const byRows = m <= n;
  const count = byRows ? m : n;
  const length = byRows ? n : m;
  const U = Array.from({ length: count }, (_, i) => Float64Array.from({ length }, (_, k) => (byRows ? A.data[i * n + k] : A.data[k * n + i])));
  const R = Array.from({ length: count }, (_, i) => Float64Array.from({ length: count }, (_, k) => (k === i ? 1 : 0)));
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < count - 1; p++) {
      for (let q = p + 1; q < count; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let k = 0; k < length; k++) {
          alpha += U[p][k] * U[p][k];
          beta += U[q][k] * U[q][k];
          gamma += U[p][k] * U[q][k];
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (const M of [U, R]) {
          const P = M[p];
          const Q = M[q];
          for (let k = 0; k < P.length; k++) {
            const a = P[k];
            P[k] = c * a - s * Q[k];
            Q[k] = s * a + c * Q[k];
          }
        }
      }
    }
    if (!rotated) break;
  }
  const sigma = U.map((u) => Math.sqrt(u.reduce((s, v) => s + v * v, 0)));
  const tol = Math.max(...sigma) * Math.max(m, n) * EPS;
  const x = new Float64Array(n);
  for (let i = 0; i < count; i++) {
    if (sigma[i] <= tol) continue;
    // rows: coefficient (R b)_i on ũ_i; columns: coefficient ũ_i·b on r_i
    const [coefficientOf, direction] = byRows ? [R[i], U[i]] : [U[i], R[i]];
    let c = 0;
    for (let k = 0; k < b.length; k++) c += coefficientOf[k] * b[k];
    for (let k = 0; k < n; k++) x[k] += (c / sigma[i] ** 2) * direction[k];
  }
  const kept = sigma.filter((s) => s > tol);
  const dropped = sigma.filter((s) => s <= tol);
  return { x, rank: kept.length, gap: Math.min(...kept) / Math.max(tol, ...dropped) };
}

function relativeDifference(a: Float64Array, b: Float64Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

interface Case {
  name: string;
  init: ConvGeometryInit;
  /** Output units whose forward row is unknown (inactive ReLU units): every `dropEvery`-th. */
  dropEvery?: number;
  /** Filters f ≥ half copy filter f − half: W_op loses rank although it has as many rows as unknowns. */
  duplicateFilters?: boolean;
}

/** A layer with a consistent system (gradients and pre-activations of a true input), its dense U and U⁺V. */
function layerCase(c: Case, seed: number, withReference = true) {
  const g = convGeometry(c.init);
  const op = new ConvOperator(g);
  const W = gaussianArray(g.nW, seed, 0.3);
  if (c.duplicateFilters) {
    const half = (g.outChannels / 2) * (g.nW / g.outChannels);
    for (let k = half; k < g.nW; k++) W[k] = W[k - half];
  }
  const x = gaussianArray(g.nX, seed + 1);
  const dz = gaussianArray(g.nZ, seed + 2, 1e-3);
  const G = op.gradient(dz, x);
  const target = op.forward(W, x);
  const active: number[] = [];
  for (let r = 0; r < g.nZ; r++) {
    if (c.dropEvery && r % c.dropEvery === 0) target[r] = NaN;
    else active.push(r);
  }
  // The dense stacked matrix [K; W_op restricted to the kept rows], built from the operators' own CSR form.
  const Wrows = csrToDense(op.forwardCsr(W));
  const K = csrToDense(op.gradientCsr(dz));
  const U: DenseMatrix = { rows: g.nW + active.length, cols: g.nX, data: new Float64Array((g.nW + active.length) * g.nX) };
  U.data.set(K.data, 0);
  active.forEach((r, k) => U.data.set(Wrows.data.subarray(r * g.nX, (r + 1) * g.nX), (g.nW + k) * g.nX));
  const V = new Float64Array(U.rows);
  V.set(G, 0);
  active.forEach((r, k) => (V[g.nW + k] = target[r]));
  const reference = withReference ? pseudoInverseSolve(U, V) : { x: new Float64Array(0), rank: NaN, gap: NaN };
  return { g, op, W, x, dz, G, target, U, V, reference, system: new ConvLayerSystem(op, W, dz, G, target) };
}

const DEFICIENT: Case[] = [
  { name: 'thin stride-2 layer 2×12×12 → Conv(3, k3, s2, p1)', init: { inChannels: 2, height: 12, width: 12, outChannels: 3, kernel: 3, strides: 2, pads: 1 } },
  {
    name: 'stride 2 with inactive units (R-CONV rows dropped)',
    init: { inChannels: 2, height: 12, width: 12, outChannels: 4, kernel: 3, strides: 2, pads: 1 },
    dropEvery: 3,
  },
  {
    name: 'grouped stride 2, uncovered border: 4×11×11 → Conv(4, k3, s2, p0, g2)',
    init: { inChannels: 4, height: 11, width: 11, outChannels: 4, kernel: 3, strides: 2, pads: 0, groups: 2 },
  },
  {
    name: 'stride 2, dilation 2, asymmetric padding, one filter',
    init: { inChannels: 2, height: 11, width: 10, outChannels: 1, kernel: [3, 2], strides: 2, dilations: 2, pads: [1, 0, 2, 1] },
  },
  {
    name: 'wide but deficient: 2×10×10 → Conv(8, k3, s2, p1) with duplicated filters',
    init: { inChannels: 2, height: 10, width: 10, outChannels: 8, kernel: 3, strides: 2, pads: 1 },
    duplicateFilters: true,
  },
];

const TOLERANCE = 1e-8;

describe('conv layer solve: minimum-norm solution of a rank-deficient layer on every route', () => {
  for (const [index, c] of DEFICIENT.entries()) {
    it(c.name, (t) => {
      const { g, op, W, x, dz, G, target, U, V, reference, system } = layerCase(c, 10 * index + 3);
      // The case is genuinely deficient with a clean numerical rank, so U⁺V is well defined and is not the truth.
      assert.ok(reference.rank < g.nX, `rank ${reference.rank} of ${g.nX}`);
      assert.ok(reference.gap > 1e6, `singular value gap ${reference.gap}`);
      assert.ok(relativeDifference(x, reference.x) > 1e-3, 'the minimum-norm solution differs from the true input');
      assert.ok(system.relativeResidual(reference.x) < 1e-10, 'U⁺V solves the consistent system');

      const classes = factorGradientClasses(system);
      assert.ok(classes);
      // The wide-layer route needs W_op of full column rank on the pixels the layer sees: it refuses a deficient W_op
      // (and applies where only unseen pixels are missing, whose minimum-norm value is 0).
      const banded = solveByForwardBand(system, {});
      if (c.duplicateFilters) assert.equal(banded, undefined);
      const routes: [string, Float64Array][] = [
        ...(banded ? [['band-preconditioned LSQR', banded.x] as [string, Float64Array]] : []),
        ['dense COD', solveDense(system).x],
        ['gradient rows + LSQR over null(K)', solveOverGradientNullSpace(system, classes, {}).x],
        ['stacked LSQR (with the forward rows first when wide)', solveStackedLsqr(system, {}).x],
        ['solveConvLayer, default budgets', solveConvLayer(op, W, dz, G, target).x],
      ];
      const withoutDense = solveConvLayer(op, W, dz, G, target, { denseFlopBudget: 0 });
      assert.match(withoutDense.method, banded ? /banded-forward/ : /null-space-lsqr/);
      routes.push([`solveConvLayer, no dense factorisation (${withoutDense.method})`, withoutDense.x]);
      for (const [route, solution] of routes) {
        const difference = relativeDifference(solution, reference.x);
        t.diagnostic(`${route}: ‖x − U⁺V‖/‖U⁺V‖ = ${difference.toExponential(1)}`);
        assert.ok(difference < TOLERANCE, `${route}: ${difference}`);
      }
      // What the previous solver did, for contrast: LSQR on the Jacobi column-scaled system minimises the scaled norm.
      const scaled = columnScaledLsqr(U, V);
      assert.ok(relativeDifference(scaled, reference.x) > 1e-4, 'the column-scaled minimiser is a different solution');
    });
  }

  it('a wide layer of full column rank: the band-preconditioned route gives the unique solution', (t) => {
    const { x, system } = layerCase(
      { name: 'wide', init: { inChannels: 3, height: 16, width: 16, outChannels: 12, kernel: 4, strides: 2, pads: 2 } },
      77,
      false,
    );
    const solution = solveByForwardBand(system, {});
    assert.ok(solution, 'the route applies');
    t.diagnostic(`${solution.iterations} iterations, error ${relativeDifference(solution.x, x).toExponential(1)}`);
    assert.equal(solution.method, 'banded-forward');
    assert.ok(relativeDifference(solution.x, x) < 1e-10);
  });
});

/** LSQR on U with unit-norm rows and Jacobi-scaled columns, mapped back: the least scaled norm. */
function columnScaledLsqr(U: DenseMatrix, rhs: Float64Array): Float64Array {
  const { rows, cols: n } = U;
  const rowScale = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += U.data[i * n + j] ** 2;
    rowScale[i] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  const colScale = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += (rowScale[i] * U.data[i * n + j]) ** 2;
    colScale[j] = s > 0 ? 1 / Math.sqrt(s) : 1;
  }
  const A: LinearOperator = {
    rows,
    cols: n,
    apply(y, out) {
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += U.data[i * n + j] * colScale[j] * y[j];
        out[i] = rowScale[i] * s;
      }
    },
    applyTranspose(r, out) {
      out.fill(0);
      for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) out[j] += U.data[i * n + j] * rowScale[i] * r[i];
      for (let j = 0; j < n; j++) out[j] *= colScale[j];
    },
  };
  const result = lsqr(
    A,
    rhs.map((v, i) => v * rowScale[i]),
    { atol: 1e-15, btol: 1e-15, maxIter: 20 * n },
  );
  return result.x.map((v, j) => v * colScale[j]);
}
