// The dense and sparse numerics the layer ranks and the attack use: QR with column pivoting, null spaces, minimum-norm
// least squares, band Cholesky, Gaussian elimination for rank, norm estimates and LSQR.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bandCholesky, bandIndex, bandSolveLower, bandSolveUpper, symmetricBand } from '../../src/engine/numerics/bandCholesky';
import { convGeometry } from '../../src/engine/numerics/convGeometry';
import { ConvOperator } from '../../src/engine/numerics/convOperators';
import { matMul, matTVec, matVec, transpose, zeros, type DenseMatrix } from '../../src/engine/numerics/dense';
import { eliminationRank, sparseEliminationRank } from '../../src/engine/numerics/elimination';
import { denseOperator } from '../../src/engine/numerics/linearOperator';
import { lsqr } from '../../src/engine/numerics/lsqr';
import { estimateNorm2 } from '../../src/engine/numerics/normEstimate';
import { lstsqMinNorm, nullSpace, numericalRank, qrcp } from '../../src/engine/numerics/qr';
import { csrFromCoo } from '../../src/engine/numerics/sparse';
import { createRng, gaussianArray } from '../../src/engine/numerics/random';

// ---------------------------------------------------------------------------------------------------------------
// Dense numerics

function randn(m: number, n: number, seed: number): DenseMatrix {
  return { rows: m, cols: n, data: gaussianArray(m * n, seed) };
}

function lowRank(m: number, n: number, r: number, seed: number): DenseMatrix {
  return matMul(randn(m, r, seed), randn(r, n, seed + 1));
}

describe('numerics', () => {
  it('qrcp reveals the rank with the relative tolerance |R_00|·max(m,n)·ε', () => {
    for (const [m, n, r] of [
      [40, 30, 30],
      [40, 30, 17],
      [25, 60, 9],
      [60, 60, 59],
    ]) {
      const A = lowRank(m, n, r, m + n + r);
      const f = qrcp(A);
      assert.equal(f.rank, r, `${m}×${n} rank ${r}`);
      assert.ok(f.tol > 0 && f.tol < 1e-10 * f.diag[0]);
      // the factorisation reproduces A P: ‖Q R − A P‖ small
      const R = zeros(m, n);
      for (let i = 0; i < f.rank; i++) for (let j = i; j < n; j++) R.data[i * n + j] = f.qr.data[i * n + j];
      const Rt = transpose(R);
      const QR = zeros(n, m); // (Q R)ᵀ = Rᵀ Qᵀ, built column by column through matVec with Q
      for (let j = 0; j < n; j++) {
        const col = new Float64Array(m);
        for (let i = 0; i < m; i++) col[i] = R.data[i * n + j];
        const E = { rows: m, cols: 1, data: col };
        // apply Q
        const g = f;
        for (let k = g.rank - 1; k >= 0; k--) {
          let s = col[k];
          for (let i = k + 1; i < m; i++) s += g.qr.data[i * n + k] * col[i];
          s *= g.tau[k];
          col[k] -= s;
          for (let i = k + 1; i < m; i++) col[i] -= s * g.qr.data[i * n + k];
        }
        for (let i = 0; i < m; i++) QR.data[j * m + i] = E.data[i];
      }
      let err = 0;
      let nrm = 0;
      for (let j = 0; j < n; j++)
        for (let i = 0; i < m; i++) {
          err = Math.max(err, Math.abs(QR.data[j * m + i] - A.data[i * n + f.perm[j]]));
          nrm = Math.max(nrm, Math.abs(A.data[i * n + j]));
        }
      assert.ok(err < 1e-12 * nrm * Math.max(m, n), `reconstruction error ${err}`);
      void Rt;
    }
  });

  it('nullSpace is orthonormal and annihilated by A', () => {
    const A = lowRank(30, 50, 12, 3);
    const { basis: N, rank } = nullSpace(A);
    assert.equal(rank, 12);
    assert.equal(N.cols, 38);
    const AN = matMul(A, N);
    for (const v of AN.data) assert.ok(Math.abs(v) < 1e-11);
    const NtN = matMul(transpose(N), N);
    for (let i = 0; i < N.cols; i++) for (let j = 0; j < N.cols; j++) assert.ok(Math.abs(NtN.data[i * N.cols + j] - (i === j ? 1 : 0)) < 1e-12);
  });

  it('lstsqMinNorm gives the minimum-norm least-squares solution; LSQR converges to it', () => {
    for (const [m, n, r] of [
      [50, 30, 30],
      [30, 50, 30],
      [40, 35, 20],
    ]) {
      const A = lowRank(m, n, r, 7 * m + n);
      const b = gaussianArray(m, 99);
      const { x, rank, residualNorm } = lstsqMinNorm(A, b);
      assert.equal(rank, r);
      // normal equations Aᵀ(Ax − b) = 0
      const res = matVec(A, x);
      let rr = 0;
      for (let i = 0; i < m; i++) {
        res[i] -= b[i];
        rr += res[i] * res[i];
      }
      assert.ok(Math.abs(Math.sqrt(rr) - residualNorm) < 1e-10 * Math.max(1, residualNorm));
      const g = matTVec(A, res);
      for (const v of g) assert.ok(Math.abs(v) < 1e-10, `normal equations ${v}`);
      // x lies in the row space: orthogonal to the null space
      const { basis: N } = nullSpace(A);
      for (let k = 0; k < N.cols; k++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += N.data[j * N.cols + k] * x[j];
        assert.ok(Math.abs(s) < 1e-10, 'minimum norm');
      }
      const l = lsqr(denseOperator(A), b, { atol: 1e-14, btol: 1e-14, maxIter: 2000 });
      let d = 0;
      let nx = 0;
      for (let j = 0; j < n; j++) {
        d = Math.max(d, Math.abs(l.x[j] - x[j]));
        nx = Math.max(nx, Math.abs(x[j]));
      }
      assert.ok(d < 1e-7 * nx, `LSQR vs lstsq: ${d} (istop ${l.istop}, ${l.iterations} iterations)`);
    }
  });

  it('LSQR solves a convolution system matrix-free', () => {
    const g = convGeometry({ inChannels: 2, height: 8, width: 8, outChannels: 4, kernel: 3, pads: 1 });
    const op = new ConvOperator(g).forwardOperator(gaussianArray(g.nW, 4));
    const x = gaussianArray(g.nX, 5);
    const z = new Float64Array(g.nZ);
    op.apply(x, z);
    const r = lsqr(op, z, { atol: 1e-14, btol: 1e-14, maxIter: 5000 });
    for (let j = 0; j < g.nX; j++) assert.ok(Math.abs(r.x[j] - x[j]) < 1e-7, `x[${j}]`);
  });

  it('band Cholesky: L Lᵀ = A, solves with L and Lᵀ, and refuses a rank-deficient normal matrix', () => {
    const n = 57;
    const b = 9;
    // A = Bᵀ B + I with B banded (lower bandwidth b/2 on each side of the diagonal): SPD with half-bandwidth ≤ b
    const B = randn(n, n, 31);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (Math.abs(i - j) > b / 2) B.data[i * n + j] = 0;
    const dense = matMul(transpose(B), B);
    for (let i = 0; i < n; i++) dense.data[i * n + i] += 1;
    const A = symmetricBand(n, b);
    for (let i = 0; i < n; i++) for (let j = Math.max(0, i - b); j <= i; j++) A.data[bandIndex(A, i, j)] = dense.data[i * n + j];
    const result = bandCholesky(A, { pivotTolerance: 1e-12 });
    assert.ok(result.ok);
    const L = result.factor;
    const entry = (i: number, j: number) => (j <= i && i - j <= b ? L.data[bandIndex(L, i, j)] : 0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k <= j; k++) s += entry(i, k) * entry(j, k);
        assert.ok(Math.abs(s - dense.data[i * n + j]) < 1e-10 * (1 + Math.abs(dense.data[i * n + j])), `(L Lᵀ)[${i}, ${j}]`);
      }
    }
    const x = gaussianArray(n, 32);
    const r = matVec(dense, x);
    bandSolveLower(L, r);
    bandSolveUpper(L, r);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(r[i] - x[i]) < 1e-10, `A⁻¹ A x = x at ${i}`);
    // Bᵀ B with a zero column of B: singular, so some pivot collapses
    const S = symmetricBand(n, b);
    const B2 = { ...B, data: B.data.map((v, k) => (k % n === 20 ? 0 : v)) };
    const singular = matMul(transpose(B2), B2);
    for (let i = 0; i < n; i++) for (let j = Math.max(0, i - b); j <= i; j++) S.data[bandIndex(S, i, j)] = singular.data[i * n + j];
    const refused = bandCholesky(S, { pivotTolerance: 1e-11 });
    assert.equal(refused.ok, false);
  });

  it('elimination ranks agree with qrcp (dense, both orientations; banded sparse)', () => {
    for (const [m, n, r] of [
      [120, 80, 80],
      [120, 80, 61],
      [70, 150, 45],
    ]) {
      const A = lowRank(m, n, r, m * 3 + n);
      const tol = estimateNorm2(denseOperator(A)) * Math.max(m, n) * Number.EPSILON;
      const ref = numericalRank(A, { tol });
      assert.equal(ref, r);
      for (const orientation of ['tall', 'wide', 'asis'] as const) {
        const e = eliminationRank(A, { tol, orientation });
        assert.equal(e.rank, r, `${orientation} ${m}×${n}`);
        assert.ok(!e.aborted);
      }
    }
    // banded sparse matrix with a planted dependency (row 50 = row 10 + row 12)
    const rng = createRng(8);
    const ri: number[] = [];
    const ci: number[] = [];
    const v: number[] = [];
    const m = 200;
    const n = 260;
    const rows: Map<number, number>[] = [];
    for (let i = 0; i < m; i++) {
      const row = new Map<number, number>();
      const lo = Math.floor(i * 1.2);
      for (let j = lo; j < Math.min(n, lo + 9); j++) row.set(j, rng.normal());
      rows.push(row);
    }
    rows[50] = new Map(rows[10]);
    for (const [j, val] of rows[12]) rows[50].set(j, (rows[50].get(j) ?? 0) + val);
    rows.forEach((row, i) => {
      for (const [j, val] of row) {
        ri.push(i);
        ci.push(j);
        v.push(val);
      }
    });
    const S = csrFromCoo(m, n, ri, ci, v);
    const dense = zeros(m, n);
    rows.forEach((row, i) => row.forEach((val, j) => (dense.data[i * n + j] = val)));
    const tol = estimateNorm2(denseOperator(dense)) * Math.max(m, n) * Number.EPSILON;
    const ref = numericalRank(dense, { tol });
    assert.equal(ref, m - 1);
    for (const orientation of ['wide', 'tall'] as const) assert.equal(sparseEliminationRank(S, { tol, orientation }).rank, ref, orientation);
  });

  it('estimateNorm2 matches the largest singular value', () => {
    const A = fromDiag([3, 1, 0.5, 2.9]);
    assert.ok(Math.abs(estimateNorm2(denseOperator(A), { relTol: 1e-12, maxIter: 2000 }) - 3) < 1e-3);
  });
});

function fromDiag(d: number[]): DenseMatrix {
  const A = zeros(d.length, d.length);
  d.forEach((v, i) => (A.data[i * d.length + i] = v));
  return A;
}
