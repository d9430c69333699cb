// Householder QR with column pivoting (rank-revealing; |R_kk| ≤ |R_00|·max(m,n)·ε by default), and on top of it
// the orthonormal null basis and minimum-norm least squares (complete orthogonal decomposition).
import { EPS, cloneMatrix, identity, transpose, zeros, type DenseMatrix } from './dense';

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
  const norms = columnNorms(a, m, n);
  const normsRef = norms.slice();
  const tau = new Float64Array(kmax);
  const diag = new Float64Array(kmax);
  const w = new Float64Array(n);
  const relTol = opts.relTol ?? Math.max(m, n) * EPS;
  let tol = opts.tol ?? -1;
  let rank = 0;
  let nDiag = 0;
  for (let k = 0; k < kmax; k++) {
    pivotLargestColumn(a, m, n, k, norms, normsRef, perm);
    const h = householderColumn(a, m, n, k);
    const rkk = Math.abs(h.beta);
    diag[nDiag++] = rkk;
    if (tol < 0) tol = rkk * relTol;
    if (rkk <= tol || rkk === 0) {
      // rejected: undo the scaling so the stored column stays meaningful
      if (h.xnorm !== 0) {
        const sc = h.alpha - h.beta;
        for (let i = k + 1; i < m; i++) a[i * n + k] *= sc;
      }
      break;
    }
    a[k * n + k] = h.beta;
    tau[k] = h.tau;
    rank = k + 1;
    if (k + 1 < n && h.tau !== 0) reflectTrailingColumns(a, m, n, k, h.tau, w);
    downdateColumnNorms(a, m, n, k, norms, normsRef);
  }
  return { qr: A, tau: tau.subarray(0, rank), perm, rank, tol: Math.max(tol, 0), diag: diag.subarray(0, nDiag) };
}

/** Column norms by row sweeps (sum of squares; fine for non-extreme data). */
function columnNorms(a: Float64Array, m: number, n: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const ri = i * n;
    for (let j = 0; j < n; j++) {
      const v = a[ri + j];
      norms[j] += v * v;
    }
  }
  for (let j = 0; j < n; j++) norms[j] = Math.sqrt(norms[j]);
  return norms;
}

/** Swaps the remaining column with the largest norm into position k (columns, norms and permutation). */
function pivotLargestColumn(a: Float64Array, m: number, n: number, k: number, norms: Float64Array, normsRef: Float64Array, perm: Int32Array): void {
  let p = k;
  let best = norms[k];
  for (let j = k + 1; j < n; j++) {
    if (norms[j] > best) {
      best = norms[j];
      p = j;
    }
  }
  if (p === k) return;
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

/**
 * Householder reflector for a[k.., k]: H = I − τ v vᵀ with H a[k.., k] = β e₁. v (implicit 1 at k) is stored below
 * the diagonal; a[k, k] is left to the caller. `alpha` is the original a[k, k], `xnorm` the norm below it.
 */
function householderColumn(a: Float64Array, m: number, n: number, k: number): { alpha: number; beta: number; tau: number; xnorm: number } {
  const alpha = a[k * n + k];
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
  const xnorm = scale * Math.sqrt(ssq);
  if (xnorm === 0) return { alpha, beta: alpha, tau: 0, xnorm };
  const beta = -Math.sign(alpha || 1) * Math.hypot(alpha, xnorm);
  const sc = 1 / (alpha - beta);
  for (let i = k + 1; i < m; i++) a[i * n + k] *= sc;
  return { alpha, beta, tau: (beta - alpha) / beta, xnorm };
}

/** A[k.., k+1..] −= τ v (vᵀ A[k.., k+1..]), as row sweeps (w is scratch of length n). */
function reflectTrailingColumns(a: Float64Array, m: number, n: number, k: number, tk: number, w: Float64Array): void {
  const rk = k * n;
  for (let j = k + 1; j < n; j++) w[j] = a[rk + j];
  for (let i = k + 1; i < m; i++) {
    const ri = i * n;
    const vi = a[ri + k];
    if (vi === 0) continue;
    for (let j = k + 1; j < n; j++) w[j] += vi * a[ri + j];
  }
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

/** Downdates the remaining column norms after step k; recomputes those where cancellation made the downdate inaccurate. */
function downdateColumnNorms(a: Float64Array, m: number, n: number, k: number, norms: Float64Array, normsRef: Float64Array): void {
  const tolSwitch = Math.sqrt(EPS);
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
