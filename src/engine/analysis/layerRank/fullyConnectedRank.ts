// Ranks of a fully connected layer's system (docs/algorithm.md §3.1, §4.1).
import { FullyConnectedOperator } from '../../numerics/convOperators';
import { EPS } from '../../numerics/dense';
import { eliminationRank } from '../../numerics/elimination';
import { estimateNorm2 } from '../../numerics/normEstimate';
import { createRng } from '../../numerics/random';
import { Budget, NORM_ITERATIONS, NORM_REL_TOL, formatCount, geFlops } from './budget';
import { ForwardRows } from './forwardRows';
import { DEFAULT_MAX_DENSE_BYTES, DEFAULT_MAX_FLOPS, type LayerRankOptions, type LayerRankResult } from './types';

/**
 * Fully connected layer (§3.1, §4.1): n_x = in; K(δz) = δz ⊗ I has rank n_x whenever δz ≠ 0 (a rank-one G
 * still gives n independent equations), so the deficiency is 0. rank W (of the kept rows) is computed numerically
 * when it fits.
 */
export function fullyConnectedLayerRank(inFeatures: number, outFeatures: number, opts: LayerRankOptions = {}): LayerRankResult {
  const t0 = performance.now();
  const op = new FullyConnectedOperator(inFeatures, outFeatures);
  const fwd = ForwardRows.fullyConnected(outFeatures, opts.activeOutputs);
  const notes: string[] = [];
  const rng = createRng(opts.seed ?? 1);
  if (opts.outputGradient && opts.outputGradient.length !== outFeatures) {
    throw new RangeError(`fullyConnectedLayerRank: output gradient has ${opts.outputGradient.length} entries, expected ${outFeatures}`);
  }
  const dz = fwd.outputGradient(opts.outputGradient, () => rng.fillNormal(new Float64Array(outFeatures)), 'fullyConnectedLayerRank');
  const loadWeights = (): Float64Array => {
    const W = (typeof opts.weights === 'function' ? opts.weights() : opts.weights) ?? rng.fillNormal(new Float64Array(op.nW));
    if (W.length !== op.nW) throw new RangeError(`fullyConnectedLayerRank: weights have ${W.length} entries, expected ${op.nW}`);
    return W;
  };
  const budget = new Budget(opts.maxFlops ?? DEFAULT_MAX_FLOPS, opts.maxDenseBytes ?? DEFAULT_MAX_DENSE_BYTES);
  const n = inFeatures;
  const m = outFeatures;
  const mk = fwd.kept; // kept forward rows
  let fragile = false;
  let dzNonZero = false;
  for (let i = 0; i < m; i++) if (dz[i] !== 0) dzNonZero = true;
  const rankK = dzNonZero ? n : 0;
  let rankW: number | null = null;
  const relW = Math.max(mk, n) * EPS;
  let sigmaW = 0;
  const cost = geFlops(mk, n) + 4 * NORM_ITERATIONS * m * n;
  if (mk === 0) rankW = 0;
  else if (opts.method !== 'bound' && budget.fits(cost, 2 * 8 * m * (n + 8))) {
    const W = loadWeights();
    const A = fwd.dense(op.forwardDense(W), 0);
    sigmaW = estimateNorm2(fwd.operator(op.forwardOperator(W)), { maxIter: NORM_ITERATIONS, relTol: NORM_REL_TOL });
    const r = sigmaW === 0 ? null : eliminationRank(A, { tol: sigmaW * relW });
    rankW = r ? r.rank : 0;
    if (r && !r.clearGap) {
      fragile = true;
      notes.push(`rank W by elimination without a clear gap (smallest pivot ${r.minPivot.toExponential(1)}, threshold ${r.finalTol.toExponential(1)})`);
    }
    budget.charge(cost);
  } else if (opts.method !== 'bound') {
    notes.push(`rank W over budget (~${formatCount(cost)} flops): bound min(in, out) used`);
  }
  if (!dzNonZero) notes.push('δz is zero: the gradient carries no equation; only the forward rows remain');
  const rW = rankW ?? Math.min(mk, n);
  const rankU = dzNonZero ? n : rW;
  const D = dzNonZero ? rW : 0; // row(K) = Rⁿ ⊇ row(W): every forward row lies in the gradient row space
  return {
    kind: 'fullyConnected',
    nX: n,
    nZ: mk,
    nZDropped: fwd.dropped,
    nW: m * n,
    nBias: opts.hasBias ? m : 0,
    naive: n - m * n - mk,
    uncoveredPixels: 0,
    nCovered: n,
    rankK,
    rankW: rW,
    rankU,
    deficiency: n - rankU,
    rankSource: {
      K: 'exact',
      W: rankW === null ? 'bound' : mk === 0 ? 'exact' : 'numeric',
      U: dzNonZero ? 'exact' : rankW === null ? 'bound' : mk === 0 ? 'exact' : 'numeric',
    },
    bounds: {
      latticeRankK: n,
      crossDependency: D,
      rankWUpper: Math.min(mk, n),
      rankUUpper: n,
      closedFormRankU: rankU,
      closedFormDeficiency: n - rankU,
    },
    method: 'structured',
    tolerance: { relative: relW, sigmaK: 0, sigmaW, sigmaU: 0, absK: 0, absW: sigmaW * relW, absU: 0 },
    fragile,
    flops: budget.spent,
    seconds: (performance.now() - t0) / 1000,
    notes,
  };
}
