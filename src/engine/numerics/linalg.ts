// Float64 numerics for the layer linear systems (algorithm.md §4.2, §5.4, §8 rows 3 and 17).
// Dense matrices are row-major Float64Array; sparse ones are CSR. Everything is matrix-free where it can be.
//
// Contents
//  - DenseMatrix / Csr / LinearOperator types and basic products
//  - estimateNorm2: largest singular value by power iteration on AᵀA (for relative tolerances)
//  - qrcp: Householder QR with column pivoting (rank-revealing; |R_kk| ≤ |R_00|·max(m,n)·ε by default)
//  - nullSpace, lstsqFactor / lstsqMinNorm: orthonormal null basis and minimum-norm least squares (complete
//    orthogonal decomposition on top of qrcp)
//  - eliminationRank / sparseEliminationRank: blocked Gaussian elimination with row pivoting and column skipping,
//    the fast path for large structured rank tests (dense blocks, banded sparse operators)
//  - lsqr: Paige–Saunders LSQR, matrix-free minimum-norm least squares for systems too big for a dense solve
//
// JS does not vectorise: the inner loops are contiguous axpy/dot loops over typed arrays, with no allocation
// inside loops; the elimination kernels apply up to 8 pivot rows per sweep to cut memory traffic.

/** Machine epsilon of float64 (2⁻⁵²). */
export const EPS = Number.EPSILON;

/** A dense row-major matrix: entry (i, j) is data[i·cols + j]. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** A sparse matrix in compressed sparse row form (column indices need not be sorted). */
export interface Csr {
  rows: number;
  cols: number;
  /** rows + 1 offsets into colIdx/values. */
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float64Array;
}

/** A matrix given only by its action: y = A x (apply) and x = Aᵀ y (applyTranspose); outputs are overwritten. */
export interface LinearOperator {
  rows: number;
  cols: number;
  apply(x: Float64Array, out: Float64Array): void;
  applyTranspose(y: Float64Array, out: Float64Array): void;
}

// ---------------------------------------------------------------------------------------------------------------
// Basic dense helpers

export function zeros(rows: number, cols: number): DenseMatrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

export function fromRows(rows: ArrayLike<number>[]): DenseMatrix {
  const m = rows.length;
  const n = m ? rows[0].length : 0;
  const A = zeros(m, n);
  for (let i = 0; i < m; i++) {
    if (rows[i].length !== n) throw new RangeError('fromRows: ragged rows');
    for (let j = 0; j < n; j++) A.data[i * n + j] = rows[i][j];
  }
  return A;
}

export function identity(n: number): DenseMatrix {
  const A = zeros(n, n);
  for (let i = 0; i < n; i++) A.data[i * n + i] = 1;
  return A;
}

export function cloneMatrix(A: DenseMatrix): DenseMatrix {
  return { rows: A.rows, cols: A.cols, data: A.data.slice() };
}

/** Aᵀ (cache-blocked copy). */
export function transpose(A: DenseMatrix): DenseMatrix {
  const { rows: m, cols: n, data: a } = A;
  const T = new Float64Array(m * n);
  const bs = 32;
  for (let i0 = 0; i0 < m; i0 += bs) {
    const i1 = Math.min(m, i0 + bs);
    for (let j0 = 0; j0 < n; j0 += bs) {
      const j1 = Math.min(n, j0 + bs);
      for (let i = i0; i < i1; i++) {
        const ri = i * n;
        for (let j = j0; j < j1; j++) T[j * m + i] = a[ri + j];
      }
    }
  }
  return { rows: n, cols: m, data: T };
}

/** y = A x. */
export function matVec(A: DenseMatrix, x: Float64Array, out: Float64Array = new Float64Array(A.rows)): Float64Array {
  const { rows: m, cols: n, data: a } = A;
  for (let i = 0; i < m; i++) {
    let s = 0;
    const ri = i * n;
    for (let j = 0; j < n; j++) s += a[ri + j] * x[j];
    out[i] = s;
  }
  return out;
}

/** x = Aᵀ y. */
export function matTVec(A: DenseMatrix, y: Float64Array, out: Float64Array = new Float64Array(A.cols)): Float64Array {
  const { rows: m, cols: n, data: a } = A;
  out.fill(0);
  for (let i = 0; i < m; i++) {
    const yi = y[i];
    if (yi === 0) continue;
    const ri = i * n;
    for (let j = 0; j < n; j++) out[j] += a[ri + j] * yi;
  }
  return out;
}

/** C = A B (i-k-j order: contiguous inner loop). */
export function matMul(A: DenseMatrix, B: DenseMatrix): DenseMatrix {
  if (A.cols !== B.rows) throw new RangeError(`matMul: ${A.rows}×${A.cols} · ${B.rows}×${B.cols}`);
  const m = A.rows;
  const kk = A.cols;
  const n = B.cols;
  const C = new Float64Array(m * n);
  const a = A.data;
  const b = B.data;
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let k = 0; k < kk; k++) {
      const aik = a[i * kk + k];
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) C[ci + j] += aik * b[bk + j];
    }
  }
  return { rows: m, cols: n, data: C };
}

export function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Euclidean norm with scaling (no overflow/underflow for extreme entries). */
export function norm2(x: Float64Array): number {
  let scale = 0;
  let ssq = 1;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v === 0) continue;
    const av = Math.abs(v);
    if (scale < av) {
      ssq = 1 + ssq * (scale / av) * (scale / av);
      scale = av;
    } else {
      ssq += (av / scale) * (av / scale);
    }
  }
  return scale * Math.sqrt(ssq);
}

// ---------------------------------------------------------------------------------------------------------------
// Sparse helpers

/** Build a CSR matrix from COO triplets (duplicates are summed). */
export function csrFromCoo(rows: number, cols: number, ri: ArrayLike<number>, ci: ArrayLike<number>, v: ArrayLike<number>): Csr {
  const nnz = v.length;
  const count = new Int32Array(rows + 1);
  for (let k = 0; k < nnz; k++) count[ri[k] + 1]++;
  for (let i = 0; i < rows; i++) count[i + 1] += count[i];
  const rowPtr = count.slice();
  const fill = count.slice(0, rows);
  const colIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  for (let k = 0; k < nnz; k++) {
    const p = fill[ri[k]]++;
    colIdx[p] = ci[k];
    values[p] = v[k];
  }
  return sumDuplicates({ rows, cols, rowPtr, colIdx, values });
}

function sumDuplicates(A: Csr): Csr {
  const { rows, cols, rowPtr, colIdx, values } = A;
  const marker = new Int32Array(cols).fill(-1);
  const newPtr = new Int32Array(rows + 1);
  let w = 0;
  for (let i = 0; i < rows; i++) {
    const start = w;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const j = colIdx[p];
      if (marker[j] >= start) {
        values[marker[j]] += values[p];
      } else {
        marker[j] = w;
        colIdx[w] = j;
        values[w] = values[p];
        w++;
      }
    }
    newPtr[i + 1] = w;
  }
  return { rows, cols, rowPtr: newPtr, colIdx: colIdx.slice(0, w), values: values.slice(0, w) };
}

export function csrNnz(A: Csr): number {
  return A.rowPtr[A.rows];
}

/** y = A x. */
export function csrMatVec(A: Csr, x: Float64Array, out: Float64Array = new Float64Array(A.rows)): Float64Array {
  const { rowPtr, colIdx, values } = A;
  for (let i = 0; i < A.rows; i++) {
    let s = 0;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) s += values[p] * x[colIdx[p]];
    out[i] = s;
  }
  return out;
}

/** x = Aᵀ y. */
export function csrMatTVec(A: Csr, y: Float64Array, out: Float64Array = new Float64Array(A.cols)): Float64Array {
  const { rowPtr, colIdx, values } = A;
  out.fill(0);
  for (let i = 0; i < A.rows; i++) {
    const yi = y[i];
    if (yi === 0) continue;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) out[colIdx[p]] += values[p] * yi;
  }
  return out;
}

/** Aᵀ as CSR (column indices of the result are sorted). */
export function csrTranspose(A: Csr): Csr {
  const { rows, cols, rowPtr, colIdx, values } = A;
  const nnz = rowPtr[rows];
  const ptr = new Int32Array(cols + 1);
  for (let p = 0; p < nnz; p++) ptr[colIdx[p] + 1]++;
  for (let j = 0; j < cols; j++) ptr[j + 1] += ptr[j];
  const fill = ptr.slice(0, cols);
  const ci = new Int32Array(nnz);
  const v = new Float64Array(nnz);
  for (let i = 0; i < rows; i++) {
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const q = fill[colIdx[p]]++;
      ci[q] = i;
      v[q] = values[p];
    }
  }
  return { rows: cols, cols: rows, rowPtr: ptr, colIdx: ci, values: v };
}

export function csrToDense(A: Csr): DenseMatrix {
  const D = zeros(A.rows, A.cols);
  for (let i = 0; i < A.rows; i++) {
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) D.data[i * A.cols + A.colIdx[p]] += A.values[p];
  }
  return D;
}

/** Keep only the listed columns (in the given order); `keep[j]` = new index or −1. */
export function csrSelectColumns(A: Csr, newIndex: Int32Array, newCols: number): Csr {
  const ptr = new Int32Array(A.rows + 1);
  let w = 0;
  const ci = new Int32Array(csrNnz(A));
  const v = new Float64Array(csrNnz(A));
  for (let i = 0; i < A.rows; i++) {
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) {
      const j = newIndex[A.colIdx[p]];
      if (j < 0) continue;
      ci[w] = j;
      v[w++] = A.values[p];
    }
    ptr[i + 1] = w;
  }
  return { rows: A.rows, cols: newCols, rowPtr: ptr, colIdx: ci.slice(0, w), values: v.slice(0, w) };
}

/** Stack two CSR matrices with the same column count: [A; B]. */
export function csrVStack(A: Csr, B: Csr): Csr {
  if (A.cols !== B.cols) throw new RangeError('csrVStack: column counts differ');
  const na = csrNnz(A);
  const nb = csrNnz(B);
  const ptr = new Int32Array(A.rows + B.rows + 1);
  ptr.set(A.rowPtr, 0);
  for (let i = 1; i <= B.rows; i++) ptr[A.rows + i] = na + B.rowPtr[i];
  const ci = new Int32Array(na + nb);
  ci.set(A.colIdx.subarray(0, na), 0);
  ci.set(B.colIdx.subarray(0, nb), na);
  const v = new Float64Array(na + nb);
  v.set(A.values.subarray(0, na), 0);
  v.set(B.values.subarray(0, nb), na);
  return { rows: A.rows + B.rows, cols: A.cols, rowPtr: ptr, colIdx: ci, values: v };
}

/** Multiply row blocks by scalars in place: rows [0, split) by s0, the rest by s1. */
export function csrScaleRows(A: Csr, split: number, s0: number, s1: number): Csr {
  for (let i = 0; i < A.rows; i++) {
    const s = i < split ? s0 : s1;
    for (let p = A.rowPtr[i]; p < A.rowPtr[i + 1]; p++) A.values[p] *= s;
  }
  return A;
}

export function denseOperator(A: DenseMatrix): LinearOperator {
  return {
    rows: A.rows,
    cols: A.cols,
    apply: (x, out) => void matVec(A, x, out),
    applyTranspose: (y, out) => void matTVec(A, y, out),
  };
}

export function csrOperator(A: Csr): LinearOperator {
  return {
    rows: A.rows,
    cols: A.cols,
    apply: (x, out) => void csrMatVec(A, x, out),
    applyTranspose: (y, out) => void csrMatTVec(A, y, out),
  };
}

/** [s0·A; s1·B] for two operators with the same column count. */
export function stackOperators(A: LinearOperator, B: LinearOperator, s0 = 1, s1 = 1): LinearOperator {
  if (A.cols !== B.cols) throw new RangeError('stackOperators: column counts differ');
  const tmp = new Float64Array(A.cols);
  return {
    rows: A.rows + B.rows,
    cols: A.cols,
    apply(x, out) {
      A.apply(x, out.subarray(0, A.rows));
      B.apply(x, out.subarray(A.rows));
      if (s0 !== 1) for (let i = 0; i < A.rows; i++) out[i] *= s0;
      if (s1 !== 1) for (let i = A.rows; i < out.length; i++) out[i] *= s1;
    },
    applyTranspose(y, out) {
      A.applyTranspose(y.subarray(0, A.rows), out);
      B.applyTranspose(y.subarray(A.rows), tmp);
      for (let j = 0; j < out.length; j++) out[j] = s0 * out[j] + s1 * tmp[j];
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Spectral norm estimate

export interface NormEstimateOptions {
  /** Maximum power iterations (default 60). */
  maxIter?: number;
  /** Stop when successive estimates differ by less than this relative amount (default 1e-4). */
  relTol?: number;
  /** Seed of the deterministic start vector (default 12345). */
  seed?: number;
}

/**
 * Largest singular value of A by power iteration on AᵀA (a lower bound that converges to σ_max; a relative error
 * of 1e-4 is plenty for setting rank tolerances). Returns 0 for a zero operator.
 */
export function estimateNorm2(A: LinearOperator, opts: NormEstimateOptions = {}): number {
  const maxIter = opts.maxIter ?? 60;
  const relTol = opts.relTol ?? 1e-4;
  const n = A.cols;
  if (n === 0 || A.rows === 0) return 0;
  let x = new Float64Array(n);
  // deterministic pseudo-random start (LCG): avoids being orthogonal to the top singular vector by accident
  let s = (opts.seed ?? 12345) >>> 0;
  for (let j = 0; j < n; j++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[j] = s / 4294967296 - 0.5;
  }
  let nx = norm2(x);
  for (let j = 0; j < n; j++) x[j] /= nx;
  const y = new Float64Array(A.rows);
  let z = new Float64Array(n);
  let sigma = 0;
  for (let it = 0; it < maxIter; it++) {
    A.apply(x, y);
    const ny = norm2(y);
    if (ny === 0) return sigma;
    A.applyTranspose(y, z);
    const nz = norm2(z);
    const est = nz / ny; // ‖AᵀAx‖/‖Ax‖ ≥ ‖Ax‖ for unit x; converges to σ_max
    const done = sigma > 0 && Math.abs(est - sigma) <= relTol * est;
    sigma = Math.max(sigma, est);
    if (done || nz === 0) break;
    const t = x;
    x = z;
    z = t;
    nx = nz;
    for (let j = 0; j < n; j++) x[j] /= nx;
  }
  return sigma;
}

/** The relative rank tolerance of algorithm.md §4.2 / §8 row 3: σ_max · max(m, n) · ε₆₄. */
export function rankTolerance(sigmaMax: number, m: number, n: number): number {
  return sigmaMax * Math.max(m, n) * EPS;
}

// ---------------------------------------------------------------------------------------------------------------
// Householder QR with column pivoting

export interface QrcpOptions {
  /** Absolute tolerance: stop when the next |R_kk| ≤ tol. Overrides relTol. */
  tol?: number;
  /** Relative tolerance: |R_kk| ≤ |R_00| · relTol (default max(m, n)·ε). */
  relTol?: number;
  /** Factor A's storage in place (default: work on a copy). */
  inPlace?: boolean;
}

export interface QrcpResult {
  /** m×n: R in the upper triangle of the first `rank` rows, Householder vectors (v_k, implicit 1) below. */
  qr: DenseMatrix;
  /** Householder scalars of the accepted steps (H_k = I − τ_k v_k v_kᵀ). */
  tau: Float64Array;
  /** Column permutation: column k of A·P is column perm[k] of A. */
  perm: Int32Array;
  /** Numerical rank (number of accepted steps). */
  rank: number;
  /** Absolute tolerance that was applied to |R_kk|. */
  tol: number;
  /** |R_kk| for k < rank, then the first rejected value (if any). */
  diag: Float64Array;
}

/**
 * Householder QR with column pivoting (Businger–Golub), A·P = Q·R, stopping at the first |R_kk| ≤ tol.
 * Column norms are downdated and recomputed when cancellation makes the downdate inaccurate (LAPACK's rule).
 * Row-major friendly: each reflector is applied as w = vᵀA (row sweeps) then A −= τ v wᵀ (row sweeps).
 * Cost ≈ 4·m·n·r − 2·(m + n)·r² + 4r³/3 flops for rank r.
 */
export function qrcp(A0: DenseMatrix, opts: QrcpOptions = {}): QrcpResult {
  const A = opts.inPlace ? A0 : cloneMatrix(A0);
  const m = A.rows;
  const n = A.cols;
  const a = A.data;
  const kmax = Math.min(m, n);
  const perm = new Int32Array(n);
  for (let j = 0; j < n; j++) perm[j] = j;
  const norms = new Float64Array(n);
  const normsRef = new Float64Array(n);
  // column norms by row sweeps (sum of squares; fine for non-extreme data, rescaled below)
  for (let i = 0; i < m; i++) {
    const ri = i * n;
    for (let j = 0; j < n; j++) {
      const v = a[ri + j];
      norms[j] += v * v;
    }
  }
  for (let j = 0; j < n; j++) {
    norms[j] = Math.sqrt(norms[j]);
    normsRef[j] = norms[j];
  }
  const tau = new Float64Array(kmax);
  const diag = new Float64Array(kmax);
  const w = new Float64Array(n);
  const relTol = opts.relTol ?? Math.max(m, n) * EPS;
  let tol = opts.tol ?? -1;
  const tolSwitch = Math.sqrt(EPS);
  let rank = 0;
  let nDiag = 0;
  for (let k = 0; k < kmax; k++) {
    // pivot: largest remaining column norm
    let p = k;
    let best = norms[k];
    for (let j = k + 1; j < n; j++) {
      if (norms[j] > best) {
        best = norms[j];
        p = j;
      }
    }
    if (p !== k) {
      for (let i = 0; i < m; i++) {
        const ri = i * n;
        const t = a[ri + k];
        a[ri + k] = a[ri + p];
        a[ri + p] = t;
      }
      let t = norms[k];
      norms[k] = norms[p];
      norms[p] = t;
      t = normsRef[k];
      normsRef[k] = normsRef[p];
      normsRef[p] = t;
      const ti = perm[k];
      perm[k] = perm[p];
      perm[p] = ti;
    }
    // Householder vector for a[k.., k]
    const alpha = a[k * n + k];
    let xnorm: number;
    {
      let scale = 0;
      let ssq = 1;
      for (let i = k + 1; i < m; i++) {
        const v = a[i * n + k];
        if (v === 0) continue;
        const av = Math.abs(v);
        if (scale < av) {
          ssq = 1 + ssq * (scale / av) * (scale / av);
          scale = av;
        } else ssq += (av / scale) * (av / scale);
      }
      xnorm = scale * Math.sqrt(ssq);
    }
    let beta: number;
    let tk: number;
    if (xnorm === 0) {
      beta = alpha;
      tk = 0;
    } else {
      beta = -Math.sign(alpha || 1) * Math.hypot(alpha, xnorm);
      tk = (beta - alpha) / beta;
      const sc = 1 / (alpha - beta);
      for (let i = k + 1; i < m; i++) a[i * n + k] *= sc;
    }
    const rkk = Math.abs(beta);
    diag[nDiag++] = rkk;
    if (tol < 0) tol = rkk * relTol;
    if (rkk <= tol || rkk === 0) {
      // rejected: undo the scaling so the stored column stays meaningful
      if (xnorm !== 0) {
        const sc = alpha - beta;
        for (let i = k + 1; i < m; i++) a[i * n + k] *= sc;
      }
      break;
    }
    a[k * n + k] = beta;
    tau[k] = tk;
    rank = k + 1;
    if (k + 1 < n && tk !== 0) {
      // w = vᵀ A[k.., k+1..]
      const rk = k * n;
      for (let j = k + 1; j < n; j++) w[j] = a[rk + j];
      for (let i = k + 1; i < m; i++) {
        const ri = i * n;
        const vi = a[ri + k];
        if (vi === 0) continue;
        for (let j = k + 1; j < n; j++) w[j] += vi * a[ri + j];
      }
      // A −= τ v wᵀ
      for (let j = k + 1; j < n; j++) {
        w[j] *= tk;
        a[rk + j] -= w[j];
      }
      for (let i = k + 1; i < m; i++) {
        const ri = i * n;
        const vi = a[ri + k];
        if (vi === 0) continue;
        for (let j = k + 1; j < n; j++) a[ri + j] -= vi * w[j];
      }
    }
    // downdate column norms
    for (let j = k + 1; j < n; j++) {
      if (norms[j] === 0) continue;
      let t = Math.abs(a[k * n + j]) / norms[j];
      t = Math.max(0, (1 + t) * (1 - t));
      const t2 = t * (norms[j] / normsRef[j]) * (norms[j] / normsRef[j]);
      if (t2 <= tolSwitch) {
        let s = 0;
        for (let i = k + 1; i < m; i++) {
          const v = a[i * n + j];
          s += v * v;
        }
        norms[j] = Math.sqrt(s);
        normsRef[j] = norms[j];
      } else {
        norms[j] *= Math.sqrt(t);
      }
    }
  }
  return { qr: A, tau: tau.subarray(0, rank), perm, rank, tol: Math.max(tol, 0), diag: diag.subarray(0, nDiag) };
}

/** Numerical rank by QRCP with tolerance σ-relative (default |R_00|·max(m,n)·ε) or absolute (opts.tol). */
export function numericalRank(A: DenseMatrix, opts: QrcpOptions = {}): number {
  if (A.rows === 0 || A.cols === 0) return 0;
  // factor the orientation with fewer rows per reflector sweep: QRCP of Aᵀ gives the same rank
  const B = A.rows < A.cols ? transpose(A) : A;
  return qrcp(B, { ...opts, inPlace: B !== A || opts.inPlace }).rank;
}

/** Overwrite B (m×k, row-major) by Qᵀ B, Q from a qrcp result (its first `rank` reflectors). */
export function applyQt(f: QrcpResult, B: DenseMatrix): void {
  const { qr, tau, rank } = f;
  const n = qr.cols;
  const m = qr.rows;
  const k = B.cols;
  const b = B.data;
  const w = new Float64Array(k);
  for (let r = 0; r < rank; r++) applyReflector(qr.data, n, m, r, tau[r], b, k, w);
}

/** Overwrite B (m×k) by Q B. */
export function applyQ(f: QrcpResult, B: DenseMatrix): void {
  const { qr, tau, rank } = f;
  const n = qr.cols;
  const m = qr.rows;
  const k = B.cols;
  const b = B.data;
  const w = new Float64Array(k);
  for (let r = rank - 1; r >= 0; r--) applyReflector(qr.data, n, m, r, tau[r], b, k, w);
}

/** B[r.., :] −= τ v (vᵀ B[r.., :]) with v stored in column r of the factor (v_r = 1). */
function applyReflector(q: Float64Array, n: number, m: number, r: number, t: number, b: Float64Array, k: number, w: Float64Array): void {
  if (t === 0) return;
  const br = r * k;
  for (let j = 0; j < k; j++) w[j] = b[br + j];
  for (let i = r + 1; i < m; i++) {
    const vi = q[i * n + r];
    if (vi === 0) continue;
    const bi = i * k;
    for (let j = 0; j < k; j++) w[j] += vi * b[bi + j];
  }
  for (let j = 0; j < k; j++) {
    w[j] *= t;
    b[br + j] -= w[j];
  }
  for (let i = r + 1; i < m; i++) {
    const vi = q[i * n + r];
    if (vi === 0) continue;
    const bi = i * k;
    for (let j = 0; j < k; j++) b[bi + j] -= vi * w[j];
  }
}

/** Columns [from, to) of the explicit Q (m × (to − from)). */
export function formQ(f: QrcpResult, from = 0, to = f.qr.rows): DenseMatrix {
  const m = f.qr.rows;
  const E = zeros(m, to - from);
  for (let j = from; j < to; j++) E.data[j * (to - from) + (j - from)] = 1;
  applyQ(f, E);
  return E;
}

export interface NullSpaceResult {
  /** n × (n − rank) with orthonormal columns spanning the numerical null space of A. */
  basis: DenseMatrix;
  rank: number;
  /** Absolute tolerance used. */
  tol: number;
}

/**
 * Orthonormal basis of the numerical null space of A (m×n): QRCP of Aᵀ = Q R, rank r; null(A) = span Q[:, r..n).
 * Cost ≈ qrcp(n×m) + 4·n·(n−r)·r.
 */
export function nullSpace(A: DenseMatrix, opts: { tol?: number; relTol?: number } = {}): NullSpaceResult {
  const n = A.cols;
  if (A.rows === 0) return { basis: identity(n), rank: 0, tol: 0 };
  const f = qrcp(transpose(A), { ...opts, inPlace: true });
  return { basis: formQ(f, f.rank, n), rank: f.rank, tol: f.tol };
}

export interface LstsqFactor {
  rows: number;
  cols: number;
  rank: number;
  tol: number;
  /** Minimum-norm least-squares solution x = A⁺ b (numerical pseudo-inverse at the factor's rank). */
  solve(b: Float64Array): { x: Float64Array; residualNorm: number };
}

/**
 * Complete orthogonal decomposition for minimum-norm least squares: A P = Q [R11 R12; 0 0] by QRCP, then
 * [R11 R12]ᵀ = Z T (Householder QR), so A = Q [Tᵀ 0] Zᵀ Pᵀ and x = P Z T⁻ᵀ (Qᵀ b)[0..r).
 * Equivalent to numpy.linalg.lstsq at the same rank. Cost ≈ 2mn² − 2n³/3 flops (dense; keep n ≲ 3000 in JS).
 */
export function lstsqFactor(A: DenseMatrix, opts: QrcpOptions = {}): LstsqFactor {
  const m = A.rows;
  const n = A.cols;
  const f = qrcp(A, opts);
  const r = f.rank;
  // Rt = [R11 R12]ᵀ : n × r
  const Rt = zeros(n, r);
  for (let i = 0; i < r; i++) for (let j = i; j < n; j++) Rt.data[j * r + i] = f.qr.data[i * n + j];
  // QR of R1ᵀ (pivoting permutes its columns = the r equations): R1ᵀ Π = Z T  ⇒  R1 = Π Tᵀ Zᵀ
  const g = r < n ? qrcp(Rt, { tol: 0, inPlace: true }) : null;
  return {
    rows: m,
    cols: n,
    rank: r,
    tol: f.tol,
    solve(b: Float64Array) {
      if (b.length !== m) throw new RangeError(`lstsq: right-hand side has ${b.length} entries, expected ${m}`);
      const c: DenseMatrix = { rows: m, cols: 1, data: Float64Array.from(b) };
      applyQt(f, c);
      let rr = 0;
      for (let i = r; i < m; i++) rr += c.data[i] * c.data[i];
      const y = new Float64Array(n);
      if (r === n || !g) {
        // back substitution R11 y = c
        for (let i = r - 1; i >= 0; i--) {
          let s = c.data[i];
          for (let j = i + 1; j < r; j++) s -= f.qr.data[i * n + j] * y[j];
          y[i] = s / f.qr.data[i * n + i];
        }
      } else {
        // R1 y = c1 with R1 = Π Tᵀ Zᵀ: solve Tᵀ s = Πᵀ c1 (forward substitution), y = Z [s; 0]
        const gr = g.rank;
        const s = new Float64Array(n);
        for (let i = 0; i < gr; i++) {
          let acc = c.data[g.perm[i]];
          for (let j = 0; j < i; j++) acc -= g.qr.data[j * r + i] * s[j];
          s[i] = acc / g.qr.data[i * r + i];
        }
        applyQ(g, { rows: n, cols: 1, data: s });
        y.set(s);
      }
      const x = new Float64Array(n);
      for (let k = 0; k < n; k++) x[f.perm[k]] = y[k];
      return { x, residualNorm: Math.sqrt(rr) };
    },
  };
}

/** One-shot minimum-norm least squares (see lstsqFactor). */
export function lstsqMinNorm(A: DenseMatrix, b: Float64Array, opts: QrcpOptions = {}): { x: Float64Array; rank: number; residualNorm: number } {
  const f = lstsqFactor(A, opts);
  const { x, residualNorm } = f.solve(b);
  return { x, rank: f.rank, residualNorm };
}

// ---------------------------------------------------------------------------------------------------------------
// Blocked Gaussian elimination for rank (dense and banded sparse)

export interface EliminationOptions {
  /**
   * Absolute tolerance: a column whose largest remaining entry is ≤ the threshold is dependent, and entries ≤ the
   * threshold are dropped. The threshold in effect is max(tol, noiseFactor·k·ε·max|U|) after k pivots, where max|U|
   * is the largest entry of the pivot rows: Gaussian elimination's own rounding level (|ΔS| ≲ k·ε·|L||U|), below
   * which a residual carries no information. For well-scaled matrices this is ≤ tol (σ_max·max(m,n)·ε).
   */
  tol: number;
  /** Safety factor on the rounding level (default 32; 0 disables the noise floor). */
  noiseFactor?: number;
  /**
   * Which orientation to eliminate: 'tall' (rows ≥ columns: pivots are chosen among many rows, multipliers stay
   * small and dependent directions show up as clean ~ε residuals), 'wide' (rows ≤ columns: for banded operators
   * far cheaper, since surplus rows never accumulate), or 'asis'. Default: 'tall' for dense, 'wide' for sparse.
   */
  orientation?: 'tall' | 'wide' | 'asis';
  /** Abort (result.aborted = true) once more than this many flops have been spent. Default: no limit. */
  maxFlops?: number;
  /** Pivot rows applied per sweep (1…8, default 8). */
  blockSize?: number;
}

export interface EliminationResult {
  /** Number of pivots (the numerical rank when not aborted). */
  rank: number;
  /** Floating-point operations spent (multiply + add counted as 2). */
  flops: number;
  /** True when maxFlops was hit: `rank` is then only a lower bound. */
  aborted: boolean;
  /** Smallest and largest accepted pivot magnitude. */
  minPivot: number;
  maxPivot: number;
  /** Largest column residual that was declared dependent (0 if none). */
  maxRejected: number;
  /** Threshold in effect at the end (≥ tol; larger only when the elimination's rounding level exceeded tol). */
  finalTol: number;
  /**
   * True when every decision was far from the threshold: minPivot ≥ 1e3·finalTol and maxRejected ≤ finalTol/8.
   * False means the rank may be off by the ambiguous pivots: recompute in the other orientation or with qrcp.
   */
  clearGap: boolean;
  /** Peak number of simultaneously active rows and the circular window width (memory = rows·width·8 bytes). */
  peakActiveRows: number;
  window: number;
}

/** Rows of a matrix as seen by the elimination: extents and a scatter into a circular row buffer. */
interface RowSource {
  rows: number;
  cols: number;
  /** First and last column with a (structural) non-zero; lo > hi for an empty row. */
  lo: Int32Array;
  hi: Int32Array;
  /** Write row r into buf[base + (col mod width)] (the target is zeroed beforehand). */
  scatter(r: number, buf: Float64Array, base: number, width: number): void;
}

/**
 * Rank by blocked Gaussian elimination with row (partial) pivoting and column skipping on a dense matrix
 * (A is not modified). Column j is dependent when max_i |a_ij| ≤ tol among the not-yet-pivot rows after
 * elimination; entries ≤ tol are treated as exact zeros. ~3 GFLOP/s in V8 (8 pivots per sweep).
 * Rank-revealing in practice for generic (random-surrogate) matrices with a clear gap; use qrcp when the
 * decision must be guaranteed.
 */
export function eliminationRank(A: DenseMatrix, opts: EliminationOptions): EliminationResult {
  const { rows: m0, cols: n0, data } = A;
  // the requested orientation is obtained through a transposed view (no copy)
  const orientation = opts.orientation ?? 'tall';
  const tr = orientation === 'asis' ? false : orientation === 'tall' ? m0 < n0 : m0 > n0;
  const m = tr ? n0 : m0;
  const n = tr ? m0 : n0;
  const rs = tr ? 1 : n0; // stride between consecutive "rows" of the eliminated matrix in `data`
  const cs = tr ? n0 : 1; // stride between consecutive "columns"
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let l = 0;
    let h = n - 1;
    const ri = i * rs;
    while (l < n && data[ri + l * cs] === 0) l++;
    while (h >= l && data[ri + h * cs] === 0) h--;
    lo[i] = l;
    hi[i] = h;
  }
  return eliminate(
    {
      rows: m,
      cols: n,
      lo,
      hi,
      scatter(r, buf, base, width) {
        const ri = r * rs;
        let slot = lo[r] % width;
        for (let j = lo[r]; j <= hi[r]; j++) {
          buf[base + slot] = data[ri + j * cs];
          if (++slot === width) slot = 0;
        }
      },
    },
    opts,
  );
}

function needsTranspose(m: number, n: number, orientation: 'tall' | 'wide' | 'asis'): boolean {
  return orientation === 'asis' ? false : orientation === 'tall' ? m < n : m > n;
}

/**
 * Rank of a sparse matrix whose rows are banded in the given column order (e.g. a convolution operator with
 * pixel-major orderings on both sides). By default the matrix is eliminated 'wide' (transposed first when it has
 * more rows than columns): the active front then stays small. Work ≈ 2·rank·(active rows)·(row span).
 */
export function sparseEliminationRank(A0: Csr, opts: EliminationOptions): EliminationResult {
  const A = needsTranspose(A0.rows, A0.cols, opts.orientation ?? 'wide') ? csrTranspose(A0) : A0;
  const { rows: m, rowPtr, colIdx, values } = A;
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let l = 0x7fffffff;
    let h = -1;
    for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      if (values[p] === 0) continue;
      const j = colIdx[p];
      if (j < l) l = j;
      if (j > h) h = j;
    }
    lo[i] = l;
    hi[i] = h;
  }
  return eliminate(
    {
      rows: m,
      cols: A.cols,
      lo,
      hi,
      scatter(r, buf, base, width) {
        for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) buf[base + (colIdx[p] % width)] += values[p];
      },
    },
    opts,
  );
}

/** Estimated work of sparseEliminationRank for a CSR matrix (before running it): 2·r·A·S. */
export function estimateSparseEliminationFlops(A0: Csr, orientation: 'tall' | 'wide' | 'asis' = 'wide'): { flops: number; window: number; activeRows: number } {
  const transposed = needsTranspose(A0.rows, A0.cols, orientation);
  const m = transposed ? A0.cols : A0.rows;
  const n = transposed ? A0.rows : A0.cols;
  // row extents in the eliminated orientation
  const lo = new Int32Array(m).fill(0x7fffffff);
  const hi = new Int32Array(m).fill(-1);
  for (let i = 0; i < A0.rows; i++) {
    for (let p = A0.rowPtr[i]; p < A0.rowPtr[i + 1]; p++) {
      const j = A0.colIdx[p];
      const r = transposed ? j : i;
      const c = transposed ? i : j;
      if (c < lo[r]) lo[r] = c;
      if (c > hi[r]) hi[r] = c;
    }
  }
  let span = 0;
  const delta = new Int32Array(n + 1);
  for (let r = 0; r < m; r++) {
    if (hi[r] < lo[r]) continue;
    span = Math.max(span, hi[r] - lo[r] + 1);
    delta[lo[r]]++;
    delta[hi[r] + 1]--;
  }
  let active = 0;
  let peak = 0;
  for (let j = 0; j < n; j++) {
    active += delta[j];
    if (active > peak) peak = active;
  }
  return { flops: 2 * Math.min(m, n) * peak * span, window: span, activeRows: peak };
}

function eliminate(src: RowSource, opts: EliminationOptions): EliminationResult {
  const { rows: m, cols: n, lo, hi } = src;
  const tol = opts.tol;
  const noiseFactor = opts.noiseFactor ?? 32;
  let maxU = 0;
  let thr = tol;
  let maxRejected = 0;
  const maxFlops = opts.maxFlops ?? Infinity;
  const B = Math.max(1, Math.min(8, opts.blockSize ?? 8));

  // rows sorted by first column (counting sort); empty rows dropped
  const bucket = new Int32Array(n + 1);
  let nonEmpty = 0;
  let span = 0;
  for (let r = 0; r < m; r++) {
    if (hi[r] < lo[r]) continue;
    bucket[lo[r] + 1]++;
    nonEmpty++;
    span = Math.max(span, hi[r] - lo[r] + 1);
  }
  for (let j = 0; j < n; j++) bucket[j + 1] += bucket[j];
  const order = new Int32Array(nonEmpty);
  {
    const fill = bucket.slice(0, n);
    for (let r = 0; r < m; r++) if (hi[r] >= lo[r]) order[fill[lo[r]]++] = r;
  }
  // A block holds at most B pivots and spans at most maxCols columns (skipped columns included). Every live entry
  // then lies in [blockStart, blockStart + W): a row admitted at column j ≤ blockStart + maxCols − 1 ends by
  // j + span − 1, and fill never extends a row beyond the end of a row admitted earlier.
  const maxCols = 4 * B;
  const W = span + maxCols;

  let cap = 16;
  let buf = new Float64Array(cap * W);
  let L = new Float64Array(cap * B);
  let slotHi = new Int32Array(cap);
  let colVal = new Float64Array(cap);
  const freeSlots: number[] = [];
  for (let s = cap - 1; s >= 0; s--) freeSlots.push(s);
  const active = new Int32Array(Math.max(1, nonEmpty));
  let nAct = 0;
  const P = new Float64Array(B * W);
  const Phi = new Int32Array(B);

  const grow = (): void => {
    const ncap = cap * 2;
    const nb = new Float64Array(ncap * W);
    nb.set(buf);
    buf = nb;
    const nl = new Float64Array(ncap * B);
    nl.set(L);
    L = nl;
    const nh = new Int32Array(ncap);
    nh.set(slotHi);
    slotHi = nh;
    const nc = new Float64Array(ncap);
    nc.set(colVal);
    colVal = nc;
    for (let s = ncap - 1; s >= cap; s--) freeSlots.push(s);
    cap = ncap;
  };

  const result = (aborted: boolean): EliminationResult => ({
    rank,
    flops,
    aborted,
    minPivot: minPivot === Infinity ? 0 : minPivot,
    maxPivot,
    maxRejected,
    finalTol: thr,
    clearGap: (rank === 0 || minPivot >= 1e3 * thr) && maxRejected <= thr / 8,
    peakActiveRows: peak,
    window: W,
  });
  let next = 0;
  let rank = 0;
  let flops = 0;
  let minPivot = Infinity;
  let maxPivot = 0;
  let peak = 0;
  let j = 0;
  while (j < n) {
    if (nAct === 0) {
      if (next >= nonEmpty) break;
      if (lo[order[next]] > j) j = lo[order[next]];
    }
    const bs = j;
    let t = 0;
    while (t < B && j < n && j - bs < maxCols) {
      // admit rows starting at or before column j
      while (next < nonEmpty && lo[order[next]] <= j) {
        const r = order[next++];
        if (freeSlots.length === 0) grow();
        const s = freeSlots.pop() as number;
        const base = s * W;
        buf.fill(0, base, base + W);
        src.scatter(r, buf, base, W);
        slotHi[s] = hi[r];
        L.fill(0, s * B, s * B + B);
        active[nAct++] = s;
      }
      if (nAct > peak) peak = nAct;
      if (nAct === 0) break;
      // column j of the active rows, updated by the block's earlier pivots
      const cj = j % W;
      const pj = j - bs;
      let best = 0;
      let bq = -1;
      for (let q = 0; q < nAct; q++) {
        const s = active[q];
        let v = buf[s * W + cj];
        const lb = s * B;
        for (let u = 0; u < t; u++) {
          const l = L[lb + u];
          if (l !== 0) v -= l * P[u * W + pj];
        }
        colVal[s] = v;
        const av = Math.abs(v);
        if (av > best) {
          best = av;
          bq = q;
        }
      }
      flops += nAct * (2 * t + 1);
      if (best <= thr) {
        if (best > maxRejected) maxRejected = best;
        j++;
        continue; // dependent column: its small entries are dropped by the sweep
      }
      const ps = active[bq];
      active[bq] = active[--nAct];
      const piv = colVal[ps];
      if (best < minPivot) minPivot = best;
      if (best > maxPivot) maxPivot = best;
      // pivot row over (j, hiP], updated by the block's earlier pivots; zero elsewhere in the window
      let hiP = slotHi[ps];
      const lp = ps * B;
      for (let u = 0; u < t; u++) if (L[lp + u] !== 0 && Phi[u] > hiP) hiP = Phi[u];
      const pt = t * W;
      P.fill(0, pt, pt + W);
      {
        const pbase = ps * W;
        for (let k = j + 1; k <= hiP; k++) P[pt + k - bs] = buf[pbase + (k % W)];
        for (let u = 0; u < t; u++) {
          const l = L[lp + u];
          if (l === 0) continue;
          const pu = u * W;
          const kEnd = Math.min(hiP, Phi[u]);
          for (let k = j + 1; k <= kEnd; k++) P[pt + k - bs] -= l * P[pu + k - bs];
          flops += 2 * Math.max(0, kEnd - j);
        }
        let mu = best;
        for (let k = j + 1; k <= hiP; k++) {
          const av = Math.abs(P[pt + k - bs]);
          if (av > mu) mu = av;
        }
        if (mu > maxU) maxU = mu;
      }
      Phi[t] = hiP;
      for (let q = 0; q < nAct; q++) {
        const s = active[q];
        const v = colVal[s];
        L[s * B + t] = Math.abs(v) > thr ? v / piv : 0;
      }
      freeSlots.push(ps);
      rank++;
      thr = Math.max(tol, noiseFactor * rank * EPS * maxU);
      t++;
      j++;
    }
    // sweep: apply the block's t pivots to columns [j, …) of every active row; clear the consumed columns [bs, j)
    let q = 0;
    while (q < nAct) {
      const s = active[q];
      const base = s * W;
      const lb = s * B;
      let hiMax = -1;
      let nz = 0;
      for (let u = 0; u < t; u++) {
        if (L[lb + u] !== 0) {
          nz++;
          if (Phi[u] > hiMax) hiMax = Phi[u];
        }
      }
      if (nz > 0 && hiMax >= j) {
        const len = hiMax - j + 1;
        const start = j % W;
        const first = Math.min(len, W - start);
        flops += 2 * nz * len;
        if (t === 8 && nz === 8) {
          sweep8(buf, base + start, P, j - bs, first, W, L, lb);
          if (first < len) sweep8(buf, base, P, j - bs + first, len - first, W, L, lb);
        } else {
          for (let u = 0; u < t; u++) {
            const l = L[lb + u];
            if (l === 0) continue;
            const kEnd = Math.min(hiMax, Phi[u]);
            if (kEnd < j) continue;
            const lenU = kEnd - j + 1;
            const firstU = Math.min(lenU, W - start);
            axpyNeg(buf, base + start, P, u * W + j - bs, firstU, l);
            if (firstU < lenU) axpyNeg(buf, base, P, u * W + j - bs + firstU, lenU - firstU, l);
          }
        }
        if (hiMax > slotHi[s]) slotHi[s] = hiMax;
      }
      // consumed columns [bs, j) become exact zeros (eliminated, or dropped as ≤ tol)
      {
        const len = j - bs;
        const start = bs % W;
        const first = Math.min(len, W - start);
        buf.fill(0, base + start, base + start + first);
        if (first < len) buf.fill(0, base, base + len - first);
      }
      L.fill(0, lb, lb + B);
      if (slotHi[s] < j) {
        // nothing left in this row
        freeSlots.push(s);
        active[q] = active[--nAct];
        continue;
      }
      q++;
    }
    if (flops > maxFlops) {
      return result(true);
    }
  }
  return result(false);
}

function axpyNeg(y: Float64Array, yo: number, x: Float64Array, xo: number, len: number, a: number): void {
  for (let k = 0; k < len; k++) y[yo + k] -= a * x[xo + k];
}

/** y[yo + k] −= Σ_{u<8} L[lb+u] · P[u·W + po + k], k < len. */
function sweep8(y: Float64Array, yo: number, P: Float64Array, po: number, len: number, W: number, L: Float64Array, lb: number): void {
  const l0 = L[lb];
  const l1 = L[lb + 1];
  const l2 = L[lb + 2];
  const l3 = L[lb + 3];
  const l4 = L[lb + 4];
  const l5 = L[lb + 5];
  const l6 = L[lb + 6];
  const l7 = L[lb + 7];
  const o0 = po;
  const o1 = W + po;
  const o2 = 2 * W + po;
  const o3 = 3 * W + po;
  const o4 = 4 * W + po;
  const o5 = 5 * W + po;
  const o6 = 6 * W + po;
  const o7 = 7 * W + po;
  for (let k = 0; k < len; k++) {
    y[yo + k] -= l0 * P[o0 + k] + l1 * P[o1 + k] + l2 * P[o2 + k] + l3 * P[o3 + k] + l4 * P[o4 + k] + l5 * P[o5 + k] + l6 * P[o6 + k] + l7 * P[o7 + k];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// LSQR (Paige & Saunders 1982): min ‖A x − b‖² + damp²‖x‖², started from x = 0 → minimum-norm solution

export interface LsqrOptions {
  /** Regularisation λ (default 0). */
  damp?: number;
  /** Stopping tolerances (defaults 1e-12): relative accuracy of A and b. */
  atol?: number;
  btol?: number;
  /** Stop when the condition estimate exceeds this (default 1e12). */
  conlim?: number;
  /** Iteration limit (default 4·cols). */
  maxIter?: number;
  /** Checked once per iteration: return true to stop with the current iterate (istop 8: a time budget, a cancel). */
  shouldStop?: () => boolean;
  /**
   * Stop (istop 9) when ‖r‖ fell by less than 1 % over this many iterations: an inconsistent or rank-deficient
   * system that will not get meaningfully better. Default: never.
   */
  stagnationWindow?: number;
}

export interface LsqrResult {
  x: Float64Array;
  /**
   * Why it stopped: 0 x = 0 is exact; 1 Ax = b solved to atol/btol; 2 least-squares solution to atol;
   * 3 condition estimate ≥ conlim; 4/5 as 1/2 but at machine precision; 6 condition too large for ε; 7 maxIter;
   * 8 stopped by the caller (shouldStop); 9 stagnated (see stagnationWindow).
   */
  istop: number;
  iterations: number;
  /** ‖b − A x‖ (with damping: sqrt(‖r‖² + damp²‖x‖²)). */
  rNorm: number;
  /** ‖Aᵀ r − damp² x‖. */
  arNorm: number;
  /** Frobenius-norm and condition estimates of [A; damp·I]. */
  aNorm: number;
  aCond: number;
  xNorm: number;
}

/** Matrix-free LSQR. Converges to the minimum-norm least-squares solution for damp = 0. */
export function lsqr(A: LinearOperator, b: Float64Array, opts: LsqrOptions = {}): LsqrResult {
  const m = A.rows;
  const n = A.cols;
  if (b.length !== m) throw new RangeError(`lsqr: right-hand side has ${b.length} entries, expected ${m}`);
  const damp = opts.damp ?? 0;
  const atol = opts.atol ?? 1e-12;
  const btol = opts.btol ?? 1e-12;
  const conlim = opts.conlim ?? 1e12;
  const maxIter = opts.maxIter ?? 4 * n;
  const ctol = conlim > 0 ? 1 / conlim : 0;

  const x = new Float64Array(n);
  const u = Float64Array.from(b);
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  const tmpM = new Float64Array(m);
  const tmpN = new Float64Array(n);

  let beta = norm2(u);
  const bnorm = beta;
  let alpha = 0;
  if (beta > 0) {
    for (let i = 0; i < m; i++) u[i] /= beta;
    A.applyTranspose(u, v);
    alpha = norm2(v);
  }
  if (alpha > 0) for (let j = 0; j < n; j++) v[j] /= alpha;
  w.set(v);
  const result = (istop: number, itn: number, rNorm: number, arNorm: number, aNorm: number, aCond: number, xNorm: number): LsqrResult => ({
    x,
    istop,
    iterations: itn,
    rNorm,
    arNorm,
    aNorm,
    aCond,
    xNorm,
  });
  if (alpha * beta === 0) return result(0, 0, beta, 0, 0, 0, 0);

  let rhobar = alpha;
  let phibar = beta;
  let anorm = 0;
  let acond = 0;
  let ddnorm = 0;
  let res2 = 0;
  let xnorm = 0;
  let xxnorm = 0;
  let z = 0;
  let cs2 = -1;
  let sn2 = 0;
  let rnorm = beta;
  let arnorm = alpha * beta;
  let istop = 0;
  let itn = 0;
  let checkpointNorm = Infinity;
  while (itn < maxIter) {
    itn++;
    // bidiagonalisation: β u = A v − α u, α v = Aᵀ u − β v
    A.apply(v, tmpM);
    for (let i = 0; i < m; i++) u[i] = tmpM[i] - alpha * u[i];
    beta = norm2(u);
    if (beta > 0) {
      for (let i = 0; i < m; i++) u[i] /= beta;
      anorm = Math.sqrt(anorm * anorm + alpha * alpha + beta * beta + damp * damp);
      A.applyTranspose(u, tmpN);
      for (let j = 0; j < n; j++) v[j] = tmpN[j] - beta * v[j];
      alpha = norm2(v);
      if (alpha > 0) for (let j = 0; j < n; j++) v[j] /= alpha;
    }
    // eliminate damping, then the subdiagonal β by plane rotations
    const rhobar1 = Math.hypot(rhobar, damp);
    const cs1 = rhobar / rhobar1;
    const sn1 = damp / rhobar1;
    const psi = sn1 * phibar;
    phibar = cs1 * phibar;
    const rho = Math.hypot(rhobar1, beta);
    const cs = rhobar1 / rho;
    const sn = beta / rho;
    const theta = sn * alpha;
    rhobar = -cs * alpha;
    const phi = cs * phibar;
    phibar = sn * phibar;
    const tau = sn * phi;
    // update x and w
    const t1 = phi / rho;
    const t2 = -theta / rho;
    let dk2 = 0;
    for (let j = 0; j < n; j++) {
      const wj = w[j];
      const dj = wj / rho;
      dk2 += dj * dj;
      x[j] += t1 * wj;
      w[j] = v[j] + t2 * wj;
    }
    ddnorm += dk2;
    // ‖x‖ estimate
    const delta = sn2 * rho;
    const gambar = -cs2 * rho;
    const rhs = phi - delta * z;
    const zbar = rhs / gambar;
    xnorm = Math.sqrt(xxnorm + zbar * zbar);
    const gamma = Math.hypot(gambar, theta);
    cs2 = gambar / gamma;
    sn2 = theta / gamma;
    z = rhs / gamma;
    xxnorm += z * z;
    // convergence tests
    acond = anorm * Math.sqrt(ddnorm);
    const res1 = phibar * phibar;
    res2 += psi * psi;
    rnorm = Math.sqrt(res1 + res2);
    arnorm = alpha * Math.abs(tau);
    const test1 = rnorm / bnorm;
    const test2 = anorm * rnorm > 0 ? arnorm / (anorm * rnorm) : 0;
    const test3 = 1 / acond;
    const t1b = test1 / (1 + (anorm * xnorm) / bnorm);
    const rtol = btol + (atol * anorm * xnorm) / bnorm;
    if (itn >= maxIter) istop = 7;
    if (opts.shouldStop?.()) istop = 8;
    if (opts.stagnationWindow && itn % opts.stagnationWindow === 0) {
      if (rnorm > 0.99 * checkpointNorm) istop = 9;
      checkpointNorm = rnorm;
    }
    if (1 + test3 <= 1) istop = 6;
    if (1 + test2 <= 1) istop = 5;
    if (1 + t1b <= 1) istop = 4;
    if (test3 <= ctol) istop = 3;
    if (test2 <= atol) istop = 2;
    if (test1 <= rtol) istop = 1;
    if (istop !== 0) break;
  }
  return result(istop, itn, rnorm, arnorm, anorm, acond, xnorm);
}
