// rank W_op of a convolution, group by group: banded elimination of the kept forward rows in pixel-major order,
// scaled by σ_W (docs/algorithm.md §4.2).
import { ConvOperator } from '../../numerics/convOperators';
import { estimateSparseEliminationFlops, sparseEliminationRank, type EliminationResult } from '../../numerics/elimination';
import { estimateNorm2 } from '../../numerics/normEstimate';
import { csrEquilibrateRows, csrToDense, type Csr } from '../../numerics/sparse';
import { NORM_ITERATIONS, NORM_REL_TOL, QRCP_CHARGE, formatCount, qrcpFlops, type Budget } from './budget';
import type { ConvRankContext, ConvRankInputs } from './convRankContext';
import { qrcpDecision, type RankDecision } from './rankDecision';

/**
 * Per-group rank W_op (null: the structural bound min(n_z, n_cov), with a note), and whether some decision was
 * ill-conditioned. The estimate for all groups must fit the budget before any work is done.
 */
export function structuredRankW(ctx: ConvRankContext, inputs: ConvRankInputs, Wg: (grp: number) => Float64Array): { rW: number[] | null; fragile: boolean } {
  const { gg, fwd, budget, notes, tolerance } = ctx;
  const G = ctx.geom.groups;
  const { normFlops } = inputs;
  let rW: number[] | null = null;
  let fragile = false;
  const nnzBytes = 2 * 12 * gg.nZ * gg.inPerGroup * gg.kernel[0] * gg.kernel[1];
  const gops = new ConvOperator(gg);
  let wEstimate = Infinity;
  if (budget.fits(normFlops, nnzBytes)) {
    const probe = estimateSparseEliminationFlops(fwd.csr(gops.forwardCsr(Wg(0), 'hwc'), 0, 'hwc'), 'wide');
    wEstimate = probe.flops;
    if (!budget.fits(normFlops + G * wEstimate, 8 * 2 * probe.activeRows * (probe.window + 8))) {
      notes.push(`rank W_op over budget (~${formatCount(normFlops + G * wEstimate)} flops estimated): bound min(n_z, n_cov) used`);
      wEstimate = Infinity;
    }
  } else {
    notes.push(
      `rank W_op over budget (norm estimate ~${formatCount(normFlops)} flops, sparse operator ${formatCount(nnzBytes)} bytes): bound min(n_z, n_cov) used`,
    );
  }
  if (wEstimate === Infinity) return { rW, fragile };
  const sigmaW = estimateNorm2(fwd.operator(inputs.ops.forwardOperator(inputs.W)), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
  budget.charge(normFlops);
  tolerance.sigmaW = sigmaW;
  if (sigmaW === 0) notes.push('the kernel is zero: rank W_op = 0');
  let unclear = 0;
  rW = [];
  for (let grp = 0; grp < G; grp++) {
    const d =
      sigmaW === 0
        ? { rank: 0, how: 'none', clear: true }
        : rankWBanded(fwd.csr(gops.forwardCsr(Wg(grp), 'hwc'), grp, 'hwc'), 1 / sigmaW, tolerance.absW, budget, (G - grp - 1) * wEstimate);
    if (d.rank === null) {
      rW = null;
      notes.push('rank W_op aborted at the flop budget: bound min(n_z, n_cov) used');
      break;
    }
    rW.push(d.rank);
    if (!d.clear) unclear++;
  }
  if (unclear) {
    fragile = true;
    const what = 'ill-conditioned (no clear gap between kept and dropped pivots): the rank depends on the tolerance';
    notes.push(`rank W_op: ${what}${G > 1 ? ` (${unclear} of ${G} groups)` : ''}`);
  }
  return { rW, fragile };
}

/**
 * rank of one group's kept W_op rows A (pixel-major 'hwc' order, where they are banded; equilibrated in place: each
 * row to a largest entry of 1, so that one extreme weight cannot push the other rows under the tolerance) by banded
 * elimination. The cheap 'wide' orientation is tried first; if its decisions were not clearly separated from the
 * threshold (EliminationResult.clearGap), the robust 'tall' orientation, then dense QRCP, are tried within the
 * budget. `reserve` is the budget to keep for the groups still to come.
 */
function rankWBanded(A: Csr, scale: number, tol: number, budget: Budget, reserve: number): RankDecision {
  if (scale === 0 || A.rows === 0) return { rank: 0, how: 'none', clear: true };
  csrEquilibrateRows(A);
  let last: EliminationResult | null = null;
  for (const orientation of ['wide', 'tall'] as const) {
    const est = estimateSparseEliminationFlops(A, orientation);
    const frontBytes = 8 * 2 * est.activeRows * (est.window + 8);
    if (!budget.fits(est.flops + reserve, frontBytes)) break;
    const r = sparseEliminationRank(A, { tol, maxFlops: budget.remaining() - reserve, orientation });
    budget.charge(r.flops);
    if (r.aborted) break;
    if (r.clearGap) return { rank: r.rank, how: orientation, clear: true };
    last = r;
  }
  // still ambiguous: dense rank-revealing QR if it fits
  const m = Math.max(A.rows, A.cols);
  const n = Math.min(A.rows, A.cols);
  const qf = QRCP_CHARGE * qrcpFlops(m, n);
  if (budget.fits(qf + reserve, 8 * m * n)) {
    const d = qrcpDecision(csrToDense(A), tol);
    budget.charge(qf);
    return { rank: d.rank, how: 'qrcp', clear: d.clear };
  }
  if (!last) return { rank: null, how: 'none', clear: true };
  return { rank: last.rank, how: 'elimination', clear: false };
}
