// Wide layers by their forward rows (docs/algorithm.md §5.4, route 2): when the kept forward rows alone have full
// column rank, so has the stacked system, and its least-squares solution is unique (no minimum-norm question). In
// pixel-major order W_opᵀ W_op is a band matrix (half-bandwidth about (k_h − 1)·W·C_in); its Cholesky factor L
// (n·b²/2 multiply-adds) certifies the full rank (no pivot collapses) and preconditions LSQR on the stacked system:
// [K; W_op] L⁻ᵀ has singular values √(1 + σ²(K L⁻ᵀ)) ≥ 1, all close to 1 when the gradient rows are small beside the
// forward rows, so LSQR converges in a few iterations (CNN6 layer 1: 653 iterations with row and column scaling,
// about 10 here).
import { bandCholesky, bandIndex, bandSolveLower, bandSolveUpper } from '../numerics/bandCholesky';
import type { LinearOperator } from '../numerics/linearOperator';
import { lsqr } from '../numerics/lsqr';
import { lsqrStopping, type ConvLayerSystem, type ConvSolveOptions, type LayerSolution } from './layerSystem';

/** Multiply-adds of building and factoring the band (about 0.3 s in JavaScript). */
const BAND_WORK_BUDGET = 4e8;
const BAND_BYTE_BUDGET = 256 * 2 ** 20;
/** A squared pivot below this fraction of the largest diagonal entry means W_op is (numerically) rank deficient. */
const PIVOT_TOLERANCE = 1e-11;
/** The preconditioned system is nearly orthogonal: LSQR needs tens of iterations at most (else the route gives up). */
const MAX_ITERATIONS = 300;

/**
 * The least-squares solution of the unscaled stacked system, or undefined when the route does not apply: fewer kept
 * forward rows than unknowns, a pixel seen only by the gradient rows, a band over budget, or W_op (numerically) rank
 * deficient on the pixels the layer sees.
 */
export function solveByForwardBand(system: ConvLayerSystem, options: ConvSolveOptions): LayerSolution | undefined {
  const { op, W, dz, geom: g, active, forwardMask } = system;
  // Pixels no row sees are zero columns of U: the solution is 0 there, and they stay out of the factor.
  const wColumns = op.forwardTranspose(
    W.map((v) => v * v),
    forwardMask,
  );
  const kColumns = op.gradientTranspose(
    dz.map((v) => v * v),
    new Float64Array(g.nW).fill(1),
  );
  let seen = 0;
  for (let j = 0; j < g.nX; j++) {
    if (wColumns[j] > 0) seen++;
    else if (kColumns[j] > 0) return undefined;
  }
  if (active.length < seen) return undefined;
  const { bandwidth } = op.bandOrder();
  const perRow = g.inPerGroup * g.kernel[0] * g.kernel[1];
  const work = (g.nX * bandwidth * bandwidth) / 2 + (active.length * perRow * perRow) / 2;
  if (work > BAND_WORK_BUDGET || g.nX * (bandwidth + 1) * 8 > BAND_BYTE_BUDGET) return undefined;

  const band = op.forwardNormalBand(W, forwardMask);
  const { position } = op.bandOrder();
  for (let j = 0; j < g.nX; j++) if (!(wColumns[j] > 0)) band.data[bandIndex(band, position[j], position[j])] = 1;
  const cholesky = bandCholesky(band, { pivotTolerance: PIVOT_TOLERANCE, inPlace: true });
  if (!cholesky.ok) return undefined;
  const L = cholesky.factor;

  // x = L⁻ᵀ s (in band order), U x in the original order; the transpose is L⁻¹ Uᵀ.
  const xBand = new Float64Array(g.nX);
  const x = new Float64Array(g.nX);
  const z = new Float64Array(g.nZ);
  const gradientPart = new Float64Array(g.nW);
  const fromForward = new Float64Array(g.nX);
  const fromBand = (s: Float64Array, out: Float64Array): void => {
    xBand.set(s);
    bandSolveUpper(L, xBand);
    for (let j = 0; j < g.nX; j++) out[j] = xBand[position[j]];
  };
  const A: LinearOperator = {
    rows: system.rows,
    cols: g.nX,
    apply(s, out) {
      fromBand(s, x);
      op.gradient(dz, x, gradientPart);
      out.set(gradientPart, 0);
      op.forward(W, x, z);
      for (let k = 0; k < active.length; k++) out[g.nW + k] = z[active[k]];
    },
    applyTranspose(r, out) {
      op.gradientTranspose(dz, r.subarray(0, g.nW), x);
      z.fill(0);
      for (let k = 0; k < active.length; k++) z[active[k]] = r[g.nW + k];
      op.forwardTranspose(W, z, fromForward);
      for (let j = 0; j < g.nX; j++) out[position[j]] = x[j] + fromForward[j];
      bandSolveLower(L, out);
    },
  };
  const result = lsqr(A, system.rhs, { ...lsqrStopping(g, options), maxIter: MAX_ITERATIONS });
  options.signal?.throwIfAborted();
  // Gradient rows far larger than the forward rows' smallest singular value spread the spectrum: leave such a layer
  // to the other routes rather than return an unconverged answer.
  if (result.istop === 7) return undefined;
  const solution = new Float64Array(g.nX);
  fromBand(result.x, solution);
  return {
    x: solution,
    method: 'banded-forward',
    equations: system.rows,
    rank: seen,
    relativeResidual: system.relativeResidual(solution),
    iterations: result.iterations,
    conditionEstimate: result.aCond,
  };
}
