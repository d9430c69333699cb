// The reference path for small convolution layers: explicit dense K̂, Ŵ and Û on the covered columns, ranks by QRCP.
import { axisMaps, groupGeometry, type ConvGeometry } from '../../numerics/convGeometry';
import { ConvOperator } from '../../numerics/convOperators';
import type { DenseMatrix } from '../../numerics/dense';
import { stackOperators } from '../../numerics/linearOperator';
import { estimateNorm2 } from '../../numerics/normEstimate';
import { csrEquilibrateRows, csrScaleRows, csrSelectColumns, csrToDense, csrVStack } from '../../numerics/sparse';
import { NORM_ITERATIONS, NORM_REL_TOL, formatCount, qrcpFlops } from './budget';
import { convRankResult, ILL_CONDITIONED_NOTE, type ConvRankContext, type ConvRankInputs } from './convRankContext';
import { sumOf } from './convStructure';
import type { ForwardRows } from './forwardRows';
import { qrcpDecision } from './rankDecision';
import type { LayerRankResult, LayerRankTolerance } from './types';

/** Estimated flops and bytes of the dense path (three QRCPs per group and three σ_max estimates). */
export function denseCost(ctx: ConvRankContext, inputs: ConvRankInputs): { flops: number; bytes: number } {
  const { gg, fwd } = ctx;
  const nCovG = ctx.structure.nCov;
  const flops = sumOf(fwd.perGroup.map((nz) => qrcpFlops(gg.nW + nz, nCovG) + qrcpFlops(gg.nW, nCovG) + qrcpFlops(nz, nCovG))) + 3 * inputs.normFlops;
  const bytes = 8 * 2 * (gg.nW + Math.max(...fwd.perGroup)) * nCovG;
  return { flops, bytes };
}

/** The dense path's result, or null (with a note) when it does not fit the budget: the structured path then runs. */
export function denseConvRank(ctx: ConvRankContext, inputs: ConvRankInputs, cost: { flops: number; bytes: number }): LayerRankResult | null {
  const { budget, notes, tolerance, fwd } = ctx;
  if (!budget.fits(cost.flops, cost.bytes)) {
    notes.push(`dense path over budget (~${formatCount(cost.flops)} flops, ${formatCount(cost.bytes)} bytes); using the structured path`);
    return null;
  }
  const { W, dz, ops } = inputs;
  const Kop = ops.gradientOperator(dz);
  const Wop = fwd.operator(ops.forwardOperator(W));
  const sigmaK = estimateNorm2(Kop, { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
  const sigmaW = estimateNorm2(Wop, { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
  const sK = sigmaK > 0 ? 1 / sigmaK : 0;
  const sW = sigmaW > 0 ? 1 / sigmaW : 0;
  const sigmaU = estimateNorm2(stackOperators(Kop, Wop, sK, sW), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
  Object.assign(tolerance, { sigmaK, sigmaW, sigmaU, absU: Math.max(sigmaU, 1) * tolerance.relative });
  if (sigmaK === 0) notes.push('δz is zero: rank K = 0 (no gradient equations)');
  if (sigmaW === 0) notes.push('the kernel is zero: rank W_op = 0');
  const r = denseRanks(ctx.geom, W, dz, sK, sW, tolerance, fwd);
  budget.charge(cost.flops);
  const res = convRankResult(ctx, r.rK, r.rW, r.rU, 'dense');
  res.fragile = r.fragile;
  if (r.fragile) notes.push(ILL_CONDITIONED_NOTE);
  return res;
}

/**
 * Reference path: explicit dense K̂, Ŵ (kept rows) and Û restricted to covered columns, ranks by QRCP, group by
 * group. rK, rW per group.
 */
function denseRanks(
  geom: ConvGeometry,
  W: Float64Array,
  dz: Float64Array,
  sK: number,
  sW: number,
  tol: LayerRankTolerance,
  fwd: ForwardRows,
): { rK: number[]; rW: number[]; rU: number; fragile: boolean } {
  const gg = groupGeometry(geom);
  const ops = new ConvOperator(gg);
  const { rows, cols } = axisMaps(gg);
  const keep = new Int32Array(gg.nX).fill(-1);
  let nc = 0;
  for (let c = 0; c < gg.inChannels; c++)
    for (let i = 0; i < gg.height; i++)
      for (let j = 0; j < gg.width; j++) if (rows.covered[i] && cols.covered[j]) keep[(c * gg.height + i) * gg.width + j] = nc++;
  const rK: number[] = [];
  const rW: number[] = [];
  let rU = 0;
  let fragile = false;
  const decide = (A: DenseMatrix, tol: number): number => {
    if (A.rows === 0) return 0;
    const d = qrcpDecision(A, tol);
    if (!d.clear) fragile = true;
    return d.rank;
  };
  for (let grp = 0; grp < geom.groups; grp++) {
    const Wg = W.subarray(grp * gg.nW, (grp + 1) * gg.nW);
    const dzg = dz.subarray(grp * gg.nZ, (grp + 1) * gg.nZ);
    const K = csrScaleRows(csrSelectColumns(ops.gradientCsr(dzg), keep, nc), gg.nW, sK, sK);
    // Rows equilibrated rather than scaled by 1/σ_W: one extreme weight must not hide the other rows.
    const Wm =
      sW === 0
        ? csrScaleRows(csrSelectColumns(fwd.csr(ops.forwardCsr(Wg), grp, 'nchw'), keep, nc), 0, 0, 0)
        : csrEquilibrateRows(csrSelectColumns(fwd.csr(ops.forwardCsr(Wg), grp, 'nchw'), keep, nc));
    rK.push(sK === 0 ? 0 : decide(csrToDense(K), tol.absK));
    rW.push(sW === 0 ? 0 : decide(csrToDense(Wm), tol.absW));
    rU += decide(csrToDense(csrVStack(K, Wm)), tol.absU);
  }
  return { rK, rW, rU, fragile };
}
