// What the stages of one convolution layer's rank computation share, and the result they end in.
import { groupGeometry, type ConvGeometry } from '../../numerics/convGeometry';
import { ConvOperator } from '../../numerics/convOperators';
import { EPS } from '../../numerics/dense';
import { createRng } from '../../numerics/random';
import { Budget, NORM_ITERATIONS } from './budget';
import { closedForm, layerCounts, structureOf, sumOf, type GroupCounts, type Structure } from './convStructure';
import { ForwardRows } from './forwardRows';
import {
  DEFAULT_MAX_DENSE_BYTES,
  DEFAULT_MAX_FLOPS,
  type ConvRankBounds,
  type LayerRankOptions,
  type LayerRankResult,
  type LayerRankTolerance,
  type RankMethod,
} from './types';

/** The structure, counts and budget of one convolution layer; tolerances and notes fill in as the stages run. */
export interface ConvRankContext {
  readonly geom: ConvGeometry;
  /** The per-group geometry (U, K and W_op are block-diagonal over groups). */
  readonly gg: ConvGeometry;
  readonly structure: Structure;
  readonly fwd: ForwardRows;
  /** Per-group counts, and the layer's structural counts and bounds. */
  readonly counts: GroupCounts[];
  readonly base: ConvRankBounds;
  readonly budget: Budget;
  readonly tolerance: LayerRankTolerance;
  readonly notes: string[];
  readonly hasBias: boolean;
  /** performance.now() at the start, for `seconds`. */
  readonly started: number;
}

/** The numerical inputs: kernel W and δz (given or surrogates), the layer's operators and the cost of one σ_max estimate. */
export interface ConvRankInputs {
  readonly W: Float64Array;
  readonly dz: Float64Array;
  readonly ops: ConvOperator;
  readonly normFlops: number;
}

export function convRankContext(geom: ConvGeometry, opts: LayerRankOptions): ConvRankContext {
  const started = performance.now();
  const structure = structureOf(geom);
  const fwd = ForwardRows.conv(geom, opts.activeOutputs);
  const { groups: counts, layer: base } = layerCounts(geom, structure, fwd);
  const relU = Math.max(geom.nW + fwd.kept, geom.nX) * EPS;
  return {
    geom,
    gg: groupGeometry(geom),
    structure,
    fwd,
    counts,
    base,
    budget: new Budget(opts.maxFlops ?? DEFAULT_MAX_FLOPS, opts.maxDenseBytes ?? DEFAULT_MAX_DENSE_BYTES),
    tolerance: { relative: relU, sigmaK: 0, sigmaW: 0, sigmaU: 0, absK: 0, absW: 0, absU: 0 },
    notes: [],
    hasBias: opts.hasBias ?? false,
    started,
  };
}

/**
 * W and δz for the numerical paths, made (or loaded) only when one runs: seeded N(0,1) surrogates unless given
 * (δz zero on dropped rows). Also sets the K and W_op tolerance factors.
 */
export function convRankInputs(ctx: ConvRankContext, opts: LayerRankOptions): ConvRankInputs {
  const { geom, fwd, tolerance } = ctx;
  const rng = createRng(opts.seed ?? 1);
  const W = (typeof opts.weights === 'function' ? opts.weights() : opts.weights) ?? rng.fillNormal(new Float64Array(geom.nW));
  if (W.length !== geom.nW) throw new RangeError(`convLayerRank: weights have ${W.length} entries, expected ${geom.nW}`);
  if (opts.outputGradient && opts.outputGradient.length !== geom.nZ) {
    throw new RangeError(`convLayerRank: output gradient has ${opts.outputGradient.length} entries, expected ${geom.nZ}`);
  }
  const dz = fwd.outputGradient(opts.outputGradient, () => rng.fillNormal(new Float64Array(geom.nZ)), 'convLayerRank');
  tolerance.absK = Math.max(geom.nW, geom.nX) * EPS;
  tolerance.absW = Math.max(fwd.kept, geom.nX) * EPS;
  const nnzOp = geom.nZ * geom.inPerGroup * geom.kernel[0] * geom.kernel[1];
  // one power iteration = K or W_op and its transpose
  return { W, dz, ops: new ConvOperator(geom), normFlops: NORM_ITERATIONS * 8 * nnzOp };
}

/**
 * The layer's result from per-group ranks rK, rW (null = structural bound) and rank U of the layer (null = the
 * closed form, computed per group with the best ranks available).
 */
export function convRankResult(ctx: ConvRankContext, rK: number[] | null, rW: number[] | null, rU: number | null, method: RankMethod): LayerRankResult {
  const { geom, base, counts, structure: s } = ctx;
  const rankK = rK ? sumOf(rK) : base.bounds.latticeRankK;
  const rankW = rW ? sumOf(rW) : base.bounds.rankWUpper;
  const cf = sumOf(counts.map((c, grp) => closedForm(c.nCov, rK ? rK[grp] : s.latticeK, rW ? rW[grp] : c.wUpper, c.D)));
  const rankU = rU ?? cf;
  return {
    kind: 'conv',
    nX: geom.nX,
    nZ: base.nZ,
    nZDropped: base.nZDropped,
    nW: geom.nW,
    nBias: ctx.hasBias ? geom.outChannels : 0,
    naive: base.naive,
    uncoveredPixels: base.uncoveredPixels,
    nCovered: base.nCovered,
    rankK,
    rankW,
    rankU,
    deficiency: geom.nX - rankU,
    rankSource: { K: rK === null ? 'bound' : 'numeric', W: rW === null ? 'bound' : 'numeric', U: rU === null ? 'bound' : 'numeric' },
    bounds: { ...base.bounds, closedFormRankU: cf, closedFormDeficiency: geom.nX - cf },
    method: rU === null ? 'bound' : method,
    tolerance: ctx.tolerance,
    fragile: false,
    flops: ctx.budget.spent,
    seconds: (performance.now() - ctx.started) / 1000,
    notes: ctx.notes,
  };
}

/** The note every path adds once when a rank decision had no clear gap. */
export const ILL_CONDITIONED_NOTE = 'ill-conditioned: some rank decision had no clear gap; the rank depends on the tolerance';
