// The structured path of a convolution layer, per group (U, K and W_op are block-diagonal over groups):
//  1. rank K: K = I_{C_in/g} ⊗ K_c, and K_c is block-diagonal over the stride residue classes of the pixels; each class
//     block is factored by QRCP (convRankK.ts).
//  2. rank W_op: banded elimination of the sparse W_op in pixel-major order (convRankW.ts).
//  3. rank U = rank K + rank(W_op N_K), N_K the orthonormal null bases of the class blocks (convRankU.ts).
import { convRankResult, ILL_CONDITIONED_NOTE, type ConvRankContext, type ConvRankInputs } from './convRankContext';
import { factorK } from './convRankK';
import { structuredRankU } from './convRankU';
import { structuredRankW } from './convRankW';
import { sumOf } from './convStructure';
import type { LayerRankResult } from './types';

export function structuredConvRank(ctx: ConvRankContext, inputs: ConvRankInputs): LayerRankResult {
  const { gg, notes, tolerance } = ctx;
  const { W, dz } = inputs;
  const per = gg.nW; // kernel entries per group
  const zPer = gg.nZ;
  const Wg = (grp: number): Float64Array => W.subarray(grp * per, (grp + 1) * per);
  const dzg = (grp: number): Float64Array => dz.subarray(grp * zPer, (grp + 1) * zPer);

  // 1. rank K: residue-class blocks of every group; σ_K = max over blocks (K is block-diagonal)
  const kParts = factorK(gg, ctx.geom.groups, ctx.structure, dzg, tolerance, ctx.budget, notes);
  const rK = kParts ? kParts.map((parts) => gg.inChannels * sumOf(parts.map((p) => p.rank))) : null;
  if (tolerance.sigmaK === 0 && kParts) notes.push('δz is zero: rank K = 0 (no gradient equations)');
  // 2. rank W_op, scaled by σ_W (matrix-free power iteration over the whole layer)
  const w = structuredRankW(ctx, inputs, Wg);
  // 3. rank U, with shortcuts when rank K or rank W_op reaches n_cov
  const u = structuredRankU(ctx, inputs, kParts, w.rW, Wg);

  let fragile = w.fragile || u.fragile;
  if (kParts) for (const parts of kParts) for (const p of parts) if (!p.clear) fragile = true;
  if (fragile && !notes.some((n) => n.includes('ill-conditioned'))) notes.push(ILL_CONDITIONED_NOTE);
  const res = convRankResult(ctx, rK, w.rW, u.rU, 'structured');
  res.fragile = fragile;
  return res;
}
