// rank U of a convolution, group by group: rank U = rank K + rank(Ŵ N_K), with shortcuts when rank K or rank W_op
// already reaches the covered inputs (docs/algorithm.md §4.2).
import type { ConvGeometry } from '../../numerics/convGeometry';
import type { DenseMatrix } from '../../numerics/dense';
import { eliminationRank } from '../../numerics/elimination';
import { stackOperators } from '../../numerics/linearOperator';
import { estimateNorm2 } from '../../numerics/normEstimate';
import { formQ } from '../../numerics/qr';
import { NORM_ITERATIONS, NORM_REL_TOL, QRCP_CHARGE, formatCount, geFlops, qrcpFlops, type Budget } from './budget';
import type { ConvRankContext, ConvRankInputs } from './convRankContext';
import type { KClassFactor } from './convRankK';
import type { Structure } from './convStructure';
import type { ForwardRows } from './forwardRows';
import { qrcpDecision } from './rankDecision';

/**
 * rank U of the layer (null: the closed form, with a note), and whether some decision was ill-conditioned.
 * Û = [K/σ_K; W_op/σ_W] has σ_max ∈ [1, √2]: the shortcut uses the conservative √2 (fewer K directions count), the
 * explicit product the estimated σ_max(Û).
 */
export function structuredRankU(
  ctx: ConvRankContext,
  inputs: ConvRankInputs,
  kParts: KClassFactor[][] | null,
  rW: number[] | null,
  Wg: (grp: number) => Float64Array,
): { rU: number | null; fragile: boolean } {
  const { gg, fwd, budget, notes, tolerance, counts } = ctx;
  const G = ctx.geom.groups;
  const relU = tolerance.relative;
  const countAbove = (parts: KClassFactor[], thr: number): number => {
    let c = 0;
    for (const p of parts) for (let k = 0; k < p.rank; k++) if (p.diag[k] > thr) c++;
    return c * gg.inChannels;
  };
  let fragile = false;
  let rU: number | null = 0;
  tolerance.absU = Math.SQRT2 * relU;
  let sigmaUKnown = false;
  for (let grp = 0; grp < G && rU !== null; grp++) {
    const parts = kParts ? kParts[grp] : null;
    const rWgrp = rW ? rW[grp] : null;
    // input entries of the group inside a kept unit's window: rank U of the group cannot exceed them
    const nCovKept = counts[grp].nCov;
    if (rWgrp !== null && rWgrp >= nCovKept) {
      rU += nCovKept;
      continue;
    }
    if (!parts) {
      rU = null;
      break;
    }
    if (countAbove(parts, Math.SQRT2 * relU * tolerance.sigmaK) >= nCovKept) {
      rU += nCovKept;
      continue;
    }
    if (fwd.perGroup[grp] === 0 || (tolerance.sigmaW === 0 && rWgrp === 0)) {
      // no forward equations: rank U = rank K
      rU += countAbove(parts, tolerance.absK * tolerance.sigmaK);
      continue;
    }
    if (!sigmaUKnown) {
      if (!budget.fits(2 * inputs.normFlops, 0) || (tolerance.sigmaW === 0 && rW === null)) {
        rU = null;
        notes.push('rank U over budget (norm of the stacked system): closed form used');
        break;
      }
      estimateStackedNorm(ctx, inputs);
      sigmaUKnown = true;
    }
    const kU = countAbove(parts, tolerance.absU * tolerance.sigmaK);
    if (kU >= nCovKept) {
      rU += nCovKept;
      continue;
    }
    const scaleW = tolerance.sigmaW > 0 ? 1 / tolerance.sigmaW : 0;
    const rm = rankWOnNullK(gg, ctx.structure, Wg(grp), fwd, grp, scaleW, parts, tolerance.absU, tolerance.absU * tolerance.sigmaK, budget, notes, G - grp - 1);
    if (rm && !rm.clear) fragile = true;
    rU = rm === null ? null : rU + kU + rm.rank;
  }
  return { rU, fragile };
}

/** σ_max(Û) of the stacked, scaled system, and the U threshold that follows from it. */
function estimateStackedNorm(ctx: ConvRankContext, inputs: ConvRankInputs): void {
  const { tolerance, fwd } = ctx;
  const { ops, W, dz } = inputs;
  const sK = tolerance.sigmaK > 0 ? 1 / tolerance.sigmaK : 0;
  const sW = tolerance.sigmaW > 0 ? 1 / tolerance.sigmaW : 0;
  tolerance.sigmaU = estimateNorm2(stackOperators(ops.gradientOperator(dz), fwd.operator(ops.forwardOperator(W)), sK, sW), {
    maxIter: NORM_ITERATIONS,
    relTol: NORM_REL_TOL,
  });
  ctx.budget.charge(2 * inputs.normFlops);
  tolerance.absU = Math.max(tolerance.sigmaU, 1) * tolerance.relative;
}

/**
 * rank(W_op N_K) for one group: rows = images under Ŵ (kept rows only) of the orthonormal null vectors of every class
 * block of K̂_c, for every input channel of the group. Null when over budget.
 */
function rankWOnNullK(
  gg: ConvGeometry,
  s: Structure,
  Wg: Float64Array,
  fwd: ForwardRows,
  grp: number,
  scale: number,
  parts0: KClassFactor[],
  tol: number,
  kThreshold: number,
  budget: Budget,
  notes: string[],
  groupsAfter = 0,
): { rank: number; clear: boolean } | null {
  const C = gg.inChannels;
  // rank of each class block at the U threshold (|R_kk| decreases along a QRCP)
  const parts = parts0.map((p) => {
    let rankU = 0;
    while (rankU < p.rank && p.diag[rankU] > kThreshold) rankU++;
    return { ...p, rankU };
  });
  let q = 0;
  let qFlops = 0;
  let maxQBytes = 0;
  for (const p of parts) {
    const npx = p.cls.pixels.length;
    const nn = npx - p.rankU;
    q += C * nn;
    qFlops += 4 * npx * nn * p.rankU;
    maxQBytes = Math.max(maxQBytes, 8 * npx * nn);
  }
  const nz = fwd.perGroup[grp];
  const buildFlops = 2 * q * gg.outChannels * gg.kernel[0] * gg.kernel[1] * gg.outHeight * gg.outWidth;
  const elimFlops = geFlops(q, nz);
  const flops = qFlops + buildFlops + elimFlops;
  const bytes = 2 * 8 * q * (nz + 8) + maxQBytes;
  if (q === 0 || nz === 0 || scale === 0) return { rank: 0, clear: true };
  if (!budget.fits(flops * (1 + groupsAfter), bytes)) {
    notes.push(`rank U over budget: W_op·N_K is ${nz}×${q} (~${formatCount(flops)} flops, ${formatCount(bytes)} bytes); closed form used`);
    return null;
  }
  const M: DenseMatrix = { rows: q, cols: nz, data: new Float64Array(q * nz) };
  const { rows: rm, cols: cm } = s;
  const [kh, kw] = gg.kernel;
  const [sh, sw] = gg.strides;
  const Ho = gg.outHeight;
  const Wo = gg.outWidth;
  const HoWo = Ho * Wo;
  const Wd = gg.width;
  const F = gg.outChannels;
  const x = new Float64Array(gg.height * gg.width);
  // with dropped rows, each image is formed in full and its kept entries gathered into M
  const take = fwd.gather(grp);
  const full = take ? new Float64Array(gg.nZ) : null;
  let row = 0;
  for (const p of parts) {
    const npx = p.cls.pixels.length;
    const nn = npx - p.rankU;
    if (nn === 0) continue;
    // orthonormal null basis of the class block: columns rankU… of Q from the QRCP of Bᵀ (identity if no factor)
    let N: DenseMatrix;
    if (p.factor) N = formQ(p.factor, p.rankU, npx);
    else {
      N = { rows: npx, cols: nn, data: new Float64Array(npx * nn) };
      for (let k = 0; k < nn; k++) N.data[k * nn + k] = 1;
    }
    for (let t = 0; t < nn; t++) {
      for (let k = 0; k < npx; k++) x[p.cls.pixels[k]] = N.data[k * nn + t];
      for (let c = 0; c < C; c++) {
        // z = Ŵ (e_c ⊗ x): only the class's taps see x
        const z = full ? full.fill(0) : M.data;
        const zo = full ? 0 : row * nz;
        for (let f = 0; f < F; f++) {
          const zf = zo + f * HoWo;
          for (const { a, b } of p.cls.taps) {
            const w = scale * Wg[((f * C + c) * kh + a) * kw + b];
            if (w === 0) continue;
            const offA = a * gg.dilations[0] - gg.pads[0];
            const offB = b * gg.dilations[1] - gg.pads[1];
            const v0 = cm.uLo[b];
            const v1 = cm.uHi[b];
            for (let u = rm.uLo[a]; u < rm.uHi[a]; u++) {
              const xr = (u * sh + offA) * Wd + offB;
              const zr = zf + u * Wo;
              for (let v = v0; v < v1; v++) z[zr + v] += w * x[xr + v * sw];
            }
          }
        }
        if (take) take(z, M.data, row * nz);
        row++;
      }
      for (let k = 0; k < npx; k++) x[p.cls.pixels[k]] = 0;
    }
  }
  equilibrateColumns(M);
  const reserve = groupsAfter * flops;
  const r = eliminationRank(M, { tol, maxFlops: Math.max(budget.remaining() - qFlops - buildFlops - reserve, 0), orientation: 'tall' });
  budget.charge(qFlops + buildFlops + r.flops);
  if (r.aborted) {
    notes.push(`rank U aborted at the flop budget: closed form used`);
    return null;
  }
  if (!r.clearGap) {
    const qf = QRCP_CHARGE * qrcpFlops(q, nz);
    if (budget.fits(qf + reserve, 8 * q * nz)) {
      const d = qrcpDecision(M, tol);
      budget.charge(qf);
      return d;
    }
    notes.push(
      `rank W_op·N_K = ${r.rank} by elimination without a clear gap (smallest pivot ${r.minPivot.toExponential(1)}, largest rejected ${r.maxRejected.toExponential(1)}, threshold ${r.finalTol.toExponential(1)}); QRCP over budget`,
    );
    return { rank: r.rank, clear: false };
  }
  return { rank: r.rank, clear: true };
}

/**
 * Scales each column of M (one kept forward row of W_op, seen through N_K) to a largest entry of 1: the rank of
 * W_op·N_K does not change, and one extreme weight cannot push the other rows under the tolerance.
 */
function equilibrateColumns(M: DenseMatrix): void {
  const max = new Float64Array(M.cols);
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) max[j] = Math.max(max[j], Math.abs(M.data[i * M.cols + j]));
  for (let j = 0; j < M.cols; j++) {
    if (max[j] === 0 || !Number.isFinite(max[j])) continue;
    const s = 1 / max[j];
    for (let i = 0; i < M.rows; i++) M.data[i * M.cols + j] *= s;
  }
}
