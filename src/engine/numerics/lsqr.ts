// LSQR (Paige & Saunders 1982): matrix-free minimum-norm least squares for systems too big for a dense solve.
// Solves min ‖A x − b‖² + damp²‖x‖², started from x = 0 (hence the minimum-norm solution).
import { norm2 } from './dense';
import type { LinearOperator } from './linearOperator';

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
    const previousAlpha = alpha;
    ({ alpha, beta } = bidiagonalisationStep(A, u, v, alpha, tmpM, tmpN));
    if (beta > 0) anorm = Math.sqrt(anorm * anorm + previousAlpha * previousAlpha + beta * beta + damp * damp);
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
    istop = convergenceCode(test1, test2, test3, t1b, rtol, atol, ctol) || istop;
    if (istop !== 0) break;
  }
  return result(istop, itn, rnorm, arnorm, anorm, acond, xnorm);
}

/**
 * One Golub–Kahan bidiagonalisation step: β u = A v − α u, then (when β > 0) α v = Aᵀ u − β v, with u and v
 * normalised in place. Returns the new α (unchanged when β = 0) and β.
 */
function bidiagonalisationStep(
  A: LinearOperator,
  u: Float64Array,
  v: Float64Array,
  alpha: number,
  tmpM: Float64Array,
  tmpN: Float64Array,
): { alpha: number; beta: number } {
  A.apply(v, tmpM);
  for (let i = 0; i < u.length; i++) u[i] = tmpM[i] - alpha * u[i];
  const beta = norm2(u);
  if (beta > 0) {
    for (let i = 0; i < u.length; i++) u[i] /= beta;
    A.applyTranspose(u, tmpN);
    for (let j = 0; j < v.length; j++) v[j] = tmpN[j] - beta * v[j];
    alpha = norm2(v);
    if (alpha > 0) for (let j = 0; j < v.length; j++) v[j] /= alpha;
  }
  return { alpha, beta };
}

/** Paige–Saunders stopping codes 1–6 from the convergence tests (0: go on); the lowest code that applies wins. */
function convergenceCode(test1: number, test2: number, test3: number, t1b: number, rtol: number, atol: number, ctol: number): number {
  if (test1 <= rtol) return 1;
  if (test2 <= atol) return 2;
  if (test3 <= ctol) return 3;
  if (1 + t1b <= 1) return 4;
  if (1 + test2 <= 1) return 5;
  if (1 + test3 <= 1) return 6;
  return 0;
}
