// Per-layer counts and ranks of the layer system U x = V, U = [K(δz); W_op] (docs/algorithm.md §4.1, §4.2, §4.5, §7).
//
// Numerical path ('structured'), per group (U, K, W_op are block-diagonal over groups):
//  1. Uncovered pixels are zero columns of K and W_op: they are simply never touched (n_cov = covered entries).
//  2. rank K: K = I_{C_in/g} ⊗ K_c and K_c is block-diagonal over the stride residue classes (ρ, γ) of the pixels
//     (a tap (a, b') only reaches pixels with i ≡ a d_h − p_t mod s_h, j ≡ b' d_w − p_l mod s_w). Each class block
//     (C_out/g · n_a(ρ) n_b(γ)) × (covered pixels of the class) is factored by QRCP (tiny).
//  3. rank W_op: blocked Gaussian elimination on the sparse W_op in pixel-major (HWC) order, where its rows are
//     banded; the front holds only the rows overlapping the current pixel.
//  4. rank U = rank K + rank(W_op N_K), N_K = blockdiag over channels and classes of orthonormal null bases of the
//     class blocks; W_op N_K is formed by applying the forward operator to the null vectors, then eliminated
//     (dense). Shortcuts: rank U = n_cov as soon as rank K or rank W_op reaches n_cov.
// K and W_op are scaled to unit spectral norm before stacking (rank U is invariant under block scaling in exact
// arithmetic; this makes the relative tolerance independent of |δz| versus |W|). Tolerances are relative:
// σ_max · max(m, n) · ε₆₄ of each matrix (K: n_w × n_x, W_op: n_z × n_x, U: (n_w + n_z) × n_x).
//
// Rank decisions: the class blocks of K use QRCP. The large eliminations (W_op, W_op N_K) use blocked Gaussian
// elimination, which is ~3× faster than Householder in V8 but not rank-revealing by construction; every
// elimination reports whether kept and dropped pivots were clearly separated from the threshold (clearGap). If not,
// the other orientation and then dense QRCP are tried within the budget. A decision that stays unclear means the
// operator is numerically ill-conditioned (singular values decaying through the tolerance, typical of
// single-channel/depthwise 2-D convolutions): the result is flagged `fragile`.
//
// Dropped forward rows (ReLU, R-CONV route, §5.5): `activeOutputs` marks the output units whose z is known. Only
// their forward rows enter W_op and U in every path (ForwardRows, forwardRows.ts, is the one place rows are selected); δz
// must vanish on the other units (δz = δx ⊙ 1[x > 0]), so all gradient rows are kept. The counts follow: n_z is
// the number of kept rows, n_cov counts the input entries inside the window of at least one kept unit, and the
// cross-dependency estimate D is restricted to the identities that only involve kept rows (crossDependency,
// convStructure.ts).
//
// A budget (flops and bytes) is checked before every stage, for all groups at once; a quantity that does not fit
// falls back to its structural bound (lattice bound for K, min(n_z, n_cov) for W_op, the empirical closed form for
// U) and the result says so (rankSource, method 'bound', notes). Small layers are computed by explicit dense QRCP
// of U ('dense', the reference path). Defaults: 1.2e10 flops (QRCP flops charged ×3), 256 MiB per work array —
// a CIFAR-size layer (n_x ≲ 3500) takes ≲ 3 s; ImageNet-size layers take the bound path within a fraction of a second
// (rank K stays numerical when its class blocks fit).
//
// The parts: types.ts (results, options), convStructure.ts (residue classes, counts, bounds), forwardRows.ts,
// budget.ts, rankDecision.ts, convDensePath.ts, convStructuredPath.ts (with convRankK/W/U.ts) and, for fully
// connected layers, fullyConnectedRank.ts.
import { convGeometry, type ConvGeometry } from '../../numerics/convGeometry';
import { DEFAULT_DENSE_THRESHOLD, formatCount } from './budget';
import { denseConvRank, denseCost } from './convDensePath';
import { convRankContext, convRankInputs, convRankResult } from './convRankContext';
import { structuredConvRank } from './convStructuredPath';
import type { LayerRankOptions, LayerRankResult } from './types';

/**
 * Counts, structural bounds and numerical ranks of K(δz), W_op and U = [K; W_op] for one convolution layer.
 * Weights and δz default to seeded Gaussian surrogates (generic ranks = architectural constants, §7.4).
 */
export function convLayerRank(geom: ConvGeometry, opts: LayerRankOptions = {}): LayerRankResult {
  const ctx = convRankContext(geom, opts);
  if (opts.method === 'bound') {
    ctx.notes.push('bounds only (requested)');
    return convRankResult(ctx, null, null, null, 'bound');
  }
  // The numerical paths hold W and δz as work arrays. When either alone is over the memory budget (a crafted padding
  // can give an output of 10⁹ entries), only the bounds are computed, before anything of that size is allocated.
  const arrayBytes = 8 * Math.max(geom.nW, geom.nZ);
  if (arrayBytes > ctx.budget.maxBytes) {
    ctx.notes.push(`numerical ranks over budget (W or δz alone is ${formatCount(arrayBytes)} bytes): bounds used`);
    return convRankResult(ctx, null, null, null, 'bound');
  }
  // Weights and δz are made (or loaded) only now: the bound paths above need neither.
  const inputs = convRankInputs(ctx, opts);
  const cost = denseCost(ctx, inputs);
  let method = opts.method ?? 'auto';
  if (method === 'auto') {
    method = cost.flops <= (opts.denseThresholdFlops ?? DEFAULT_DENSE_THRESHOLD) && ctx.budget.fits(cost.flops, cost.bytes) ? 'dense' : 'structured';
  }
  if (method === 'dense') {
    const dense = denseConvRank(ctx, inputs, cost);
    if (dense) return dense;
  }
  return structuredConvRank(ctx, inputs);
}

/** Convenience: geometry + rank in one call (shape CHW, attributes as in ConvGeometryInit). */
export function convLayerRankFor(
  input: [number, number, number],
  conv: {
    outChannels: number;
    kernel: number | [number, number];
    strides?: number | [number, number];
    pads?: number | [number, number, number, number];
    dilations?: number | [number, number];
    groups?: number;
  },
  opts: LayerRankOptions = {},
): LayerRankResult {
  const geom = convGeometry({ inChannels: input[0], height: input[1], width: input[2], ...conv });
  return convLayerRank(geom, opts);
}
