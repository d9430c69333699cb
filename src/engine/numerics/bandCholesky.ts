// Cholesky factorisation of a symmetric positive definite band matrix (half-bandwidth b): A = L Lᵀ with L lower
// triangular and banded like A, in n·b²/2 multiply-adds and n·(b + 4) numbers. Used on the normal matrix W_opᵀ W_op
// of a convolution in pixel-major order, where b is about (k_h − 1)·W·C_in (docs/algorithm.md §5.4).

/** Rows factored together: each row j already factored is read once for this many rows. */
const ROW_BLOCK = 4;

/**
 * Lower band of a symmetric n×n matrix, row by row, each row padded in front by ROW_BLOCK − 1 zeros so that the rows
 * of a block can share one loop: entry (i, j), i − b − 3 ≤ j ≤ i, at data[(i + 1)·(stride − 1) + j] (entries with
 * j < i − b are structural zeros).
 */
export interface SymmetricBand {
  n: number;
  bandwidth: number;
  stride: number;
  data: Float64Array;
}

export function symmetricBand(n: number, bandwidth: number): SymmetricBand {
  const stride = bandwidth + ROW_BLOCK;
  return { n, bandwidth, stride, data: new Float64Array(n * stride) };
}

/** Index of entry (i, j) of the band (i ≥ j ≥ i − b) in `data`. */
export function bandIndex(A: SymmetricBand, i: number, j: number): number {
  return (i + 1) * (A.stride - 1) + j;
}

export type BandCholeskyResult =
  | { ok: true; factor: SymmetricBand; smallestPivot: number }
  /** A pivot fell to `pivotTolerance`·(largest diagonal entry) or below: numerically not positive definite. */
  | { ok: false; failedAt: number };

/**
 * L with A = L Lᵀ, in the band layout. Row-oriented: entry (i, j) is A_ij minus the dot product of rows i and j of L
 * before column j, so every access is contiguous; ROW_BLOCK rows are done together (one read of row j serves all, and
 * their independent sums keep the floating-point adder busy). Fails at the first squared pivot ≤
 * pivotTolerance·max_i A_ii, so a rank-deficient A (the normal matrix WᵀW of a W without full column rank) is refused
 * instead of factored into noise. Overwrites A when `inPlace`.
 */
export function bandCholesky(A: SymmetricBand, options: { pivotTolerance: number; inPlace?: boolean }): BandCholeskyResult {
  const { n, bandwidth: b } = A;
  const step = A.stride - 1;
  const L = options.inPlace ? A.data : A.data.slice();
  let maxDiagonal = 0;
  for (let i = 0; i < n; i++) maxDiagonal = Math.max(maxDiagonal, L[(i + 1) * step + i]);
  const floor = options.pivotTolerance * maxDiagonal;
  let smallestPivot = Infinity;
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
    const i1 = Math.min(n, i0 + ROW_BLOCK);
    const lo = Math.max(0, i0 - b);
    // Columns left of the block: rows i0 … i1 − 1 against the finished rows j (padding zeros stand in for the
    // entries before each row's band).
    if (i1 - i0 === ROW_BLOCK) blockAgainstFinishedRows(L, step, i0, lo);
    else
      for (let i = i0; i < i1; i++)
        for (let j = lo; j < i0; j++)
          L[(i + 1) * step + j] = (L[(i + 1) * step + j] - dotRange(L, (i + 1) * step, (j + 1) * step, lo, j)) / L[(j + 1) * step + j];
    // The triangle of the block itself.
    for (let i = i0; i < i1; i++) {
      const rowI = (i + 1) * step;
      for (let j = i0; j <= i; j++) {
        const rowJ = (j + 1) * step;
        const s = L[rowI + j] - dotRange(L, rowI, rowJ, lo, j);
        if (j < i) {
          L[rowI + j] = s / L[rowJ + j];
          continue;
        }
        if (!(s > floor)) return { ok: false, failedAt: i };
        const pivot = Math.sqrt(s);
        L[rowI + i] = pivot;
        smallestPivot = Math.min(smallestPivot, pivot);
      }
    }
  }
  return { ok: true, factor: { n, bandwidth: b, stride: A.stride, data: L }, smallestPivot };
}

/** Rows i0 … i0 + 3, columns lo … i0 − 1: L_ij = (A_ij − Σ_{lo ≤ k < j} L_ik L_jk) / L_jj. */
function blockAgainstFinishedRows(L: Float64Array, step: number, i0: number, lo: number): void {
  const r0 = (i0 + 1) * step;
  const r1 = r0 + step;
  const r2 = r1 + step;
  const r3 = r2 + step;
  for (let j = lo; j < i0; j++) {
    const rj = (j + 1) * step;
    let s0 = L[r0 + j];
    let s1 = L[r1 + j];
    let s2 = L[r2 + j];
    let s3 = L[r3 + j];
    for (let k = lo; k < j; k++) {
      const ljk = L[rj + k];
      s0 -= L[r0 + k] * ljk;
      s1 -= L[r1 + k] * ljk;
      s2 -= L[r2 + k] * ljk;
      s3 -= L[r3 + k] * ljk;
    }
    const d = L[rj + j];
    L[r0 + j] = s0 / d;
    L[r1 + j] = s1 / d;
    L[r2 + j] = s2 / d;
    L[r3 + j] = s3 / d;
  }
}

/**
 * Σ_{k ∈ [from, to)} v[a + k]·v[b + k] with four partial sums: a single running sum is bound by the latency of the
 * floating-point add, four independent ones are not.
 */
function dotRange(v: Float64Array, a: number, b: number, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = from;
  for (; k + 3 < to; k += 4) {
    s0 += v[a + k] * v[b + k];
    s1 += v[a + k + 1] * v[b + k + 1];
    s2 += v[a + k + 2] * v[b + k + 2];
    s3 += v[a + k + 3] * v[b + k + 3];
  }
  for (; k < to; k++) s0 += v[a + k] * v[b + k];
  return s0 + s1 + (s2 + s3);
}

/** Solves L y = r in place (forward substitution). */
export function bandSolveLower(L: SymmetricBand, r: Float64Array): void {
  const { n, bandwidth: b, data } = L;
  const step = L.stride - 1;
  for (let i = 0; i < n; i++) {
    const row = (i + 1) * step;
    r[i] = (r[i] - dotWith(data, row, r, Math.max(0, i - b), i)) / data[row + i];
  }
}

/** Σ_{k ∈ [from, to)} v[a + k]·r[k], four partial sums. */
function dotWith(v: Float64Array, a: number, r: Float64Array, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = from;
  for (; k + 3 < to; k += 4) {
    s0 += v[a + k] * r[k];
    s1 += v[a + k + 1] * r[k + 1];
    s2 += v[a + k + 2] * r[k + 2];
    s3 += v[a + k + 3] * r[k + 3];
  }
  for (; k < to; k++) s0 += v[a + k] * r[k];
  return s0 + s1 + (s2 + s3);
}

/** Solves Lᵀ x = r in place (back substitution, column sweeps over the rows of L). */
export function bandSolveUpper(L: SymmetricBand, r: Float64Array): void {
  const { n, bandwidth: b, data } = L;
  const step = L.stride - 1;
  for (let i = n - 1; i >= 0; i--) {
    const row = (i + 1) * step;
    const xi = r[i] / data[row + i];
    r[i] = xi;
    if (xi === 0) continue;
    for (let k = Math.max(0, i - b); k < i; k++) r[k] -= data[row + k] * xi;
  }
}
