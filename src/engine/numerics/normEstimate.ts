// Spectral norm estimate by power iteration on AᵀA, and the relative rank tolerance built on it.
import { EPS, norm2 } from './dense';
import type { LinearOperator } from './linearOperator';

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

/** The relative rank tolerance of docs/algorithm.md §4.2 / §7.3: σ_max · max(m, n) · ε₆₄. */
export function rankTolerance(sigmaMax: number, m: number, n: number): number {
  return sigmaMax * Math.max(m, n) * EPS;
}
