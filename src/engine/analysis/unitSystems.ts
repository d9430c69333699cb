// Each unit's linear system: counts, ranks and status (docs/algorithm.md §4.1, §4.2, §3.4, §5.5).
import { isModelReadError } from '../errors';
import { clipOutliers } from '../numerics/outliers';
import { sizeOf } from '../ir';
import { convGeometry } from '../numerics/convGeometry';
import { convLayerRank } from './layerRank/convLayerRank';
import { fullyConnectedLayerRank } from './layerRank/fullyConnectedRank';
import { DEFAULT_MAX_DENSE_BYTES, DEFAULT_MAX_FLOPS, type LayerRankResult } from './layerRank/types';
import { createRng } from '../numerics/random';
import type { LayerMetrics, LayerStatus, RankMethod } from './types';
import type { Unit } from './units';
import { windowOutput2d } from '../shapes';

export interface SystemOptions {
  surrogateWeights: boolean;
  seed: number;
  maxDenseBytes?: number;
  /** Work allowed for one layer's numerical ranks. */
  maxFlops?: number;
  /** Work left for the whole model: shared by all layers, spent in forward order; at 0 only bounds are computed. */
  modelBudget: { remaining: number };
  /** Layers with more unknowns get the structural bounds straight away (their factorisations rarely fit a budget). */
  maxNumericalUnknowns: number;
}

export const DEFAULT_MAX_NUMERICAL_UNKNOWNS = 16384;

/** Metrics a unit's own system determines; the graph-level fields (RA-i, COPA) are added by analyseModel. */
export type SystemMetrics = Omit<LayerMetrics, 'virtualConstraints' | 'raCount' | 'raNumerical' | 'copaWeight' | 'copaTerm'>;

export interface UnitSystem {
  status: LayerStatus;
  metrics: SystemMetrics;
  /** Whether the unit gets a row in the report (pass-through units and concatenations do not). */
  reported: boolean;
  note?: string;
  /** ReLU-like units (R-CONV): true when the output was too large to draw the activity pattern and every forward row counted. */
  allForwardRows?: boolean;
}

/** Fraction of units a ReLU leaves active in the architectural estimate (R-CONV route). */
const RELU_ACTIVE_FRACTION = 0.5;

export function analyseUnit(unit: Unit, options: SystemOptions, cache: Map<string, UnitSystem>): UnitSystem {
  const key = cacheKey(unit, options);
  const cached = key ? cache.get(key) : undefined;
  if (cached) return cached;
  const system = computeSystem(unit, options);
  // A bound-only result came from a spent budget, not from the layer: a later pass may afford the numbers.
  if (key && system.metrics.rankMethod !== 'bound') cache.set(key, system);
  return system;
}

/** Same geometry and same weights give the same system; file weights are identified by the unit id. */
function cacheKey(unit: Unit, options: SystemOptions): string | undefined {
  if (unit.kind !== 'conv' && unit.kind !== 'dense') return undefined;
  const weights = options.surrogateWeights || !unit.kernel ? 'surrogate' : `file:${unit.id}`;
  return JSON.stringify([unit.kind, unit.conv, unit.dense, unit.activation?.route, weights, options.seed]);
}

function computeSystem(unit: Unit, options: SystemOptions): UnitSystem {
  const nX = sizeOf(unit.inputShape);
  const nZ = sizeOf(unit.outputShape);
  switch (unit.kind) {
    case 'conv':
    case 'dense':
      return parametricSystem(unit, options);
    case 'avgPool':
      return averagePoolSystem(unit, nX, nZ);
    case 'maxPool':
      return {
        status: 'chain-broken',
        reported: true,
        metrics: countOnly(nX, 0, nZ, 0, { deficiency: Math.max(nX - nZ, 0) }),
      };
    case 'residual':
      return residualSystem(unit, nX, nZ);
    case 'concat':
    case 'passThrough':
      return { status: 'determined', reported: false, metrics: countOnly(nX, 0, nZ, 0, { rankU: nX, deficiency: 0, method: 'exact-count' }) };
    case 'broken':
      return { status: 'chain-broken', reported: true, note: unit.note, metrics: countOnly(nX, 0, nZ, 0, {}) };
    case 'unsupported':
      return { status: 'not-analysed', reported: true, note: unit.note, metrics: countOnly(nX, 0, nZ, 0, {}) };
  }
}

function parametricSystem(unit: Unit, options: SystemOptions): UnitSystem {
  const route = unit.activation?.route;
  if (route === 'broken' && !(unit.kind === 'dense' && unit.hasBias)) {
    const nX = sizeOf(unit.inputShape);
    return {
      status: 'chain-broken',
      reported: true,
      note: `its activation (${unit.activation!.attrs.activation}) has no closed-form inverse, so neither z nor δz of this layer follows from the layer after it`,
      metrics: countOnly(nX, weightCount(unit), sizeOf(unit.outputShape), biasCount(unit), {}),
    };
  }
  const budget = options.modelBudget;
  const rankPath = budget.remaining > 0 && sizeOf(unit.inputShape) <= options.maxNumericalUnknowns ? ('auto' as const) : ('bound' as const);
  // The R-CONV activity pattern takes one draw per output entry and drives every count that depends on it. An output
  // over the memory budget (a crafted padding can give 10⁹ entries) keeps every forward row instead: more equations
  // than the layer really has, so the estimate errs towards exposure.
  const nZ = sizeOf(unit.outputShape);
  const allForwardRows = route === 'rconv' && 8 * nZ > (options.maxDenseBytes ?? DEFAULT_MAX_DENSE_BYTES);
  const relu = route === 'rconv' && !allForwardRows ? reluOutputGradient(nZ, options.seed, rankPath === 'auto') : undefined;
  const notes = allForwardRows ? [`its output has ${nZ} entries, over the memory budget: no ReLU activity pattern is drawn, every forward row counts`] : [];
  const rankOptions = {
    // Loaded only if a numerical path runs; a load failure surfaces below as "could not be built".
    weights: options.surrogateWeights || !unit.kernel ? undefined : robustKernel(unit.kernel),
    outputGradient: relu?.outputGradient,
    activeOutputs: relu?.activeOutputs,
    seed: options.seed,
    hasBias: unit.hasBias,
    maxFlops: Math.min(options.maxFlops ?? DEFAULT_MAX_FLOPS, budget.remaining),
    maxDenseBytes: options.maxDenseBytes,
    method: rankPath,
  };
  let result: LayerRankResult;
  try {
    result =
      unit.kind === 'conv'
        ? convLayerRank(convGeometry({ ...unit.conv! }), rankOptions)
        : fullyConnectedLayerRank(unit.dense!.inFeatures, unit.dense!.outFeatures, rankOptions);
  } catch (e) {
    // A weight the file cannot give (NaN, Infinity, a lost shard) is a read error of the model, not a gap in the audit.
    if (isModelReadError(e)) throw e;
    return {
      status: 'not-analysed',
      reported: true,
      note: `its system could not be built (${e instanceof Error ? e.message : String(e)})`,
      metrics: countOnly(sizeOf(unit.inputShape), weightCount(unit), sizeOf(unit.outputShape), biasCount(unit), {}),
    };
  }
  budget.remaining = Math.max(0, budget.remaining - result.flops);
  const method: RankMethod = result.method === 'bound' ? 'bound' : 'numerical';
  return {
    status: statusOf(result.deficiency, result.nW + result.nZ, result.nX),
    reported: true,
    ...(allForwardRows ? { allForwardRows } : {}),
    note: notes.length + result.notes.length ? [...notes, ...result.notes].join('; ') : undefined,
    metrics: {
      nX: result.nX,
      nW: result.nW,
      nZ: result.nZ,
      nBias: result.nBias,
      naive: result.naive,
      uncovered: result.uncoveredPixels,
      rankK: result.rankK,
      rankW: result.rankW,
      rankU: result.rankU,
      deficiency: result.deficiency,
      rankMethod: method,
      bounds:
        result.kind === 'conv'
          ? { rankK: result.bounds.latticeRankK, rankU: result.bounds.rankUUpper, crossDependencies: result.bounds.crossDependency }
          : undefined,
    },
  };
}

/** The kernel as the rank analysis sees it: extreme magnitudes clipped (numerics/outliers.ts). */
function robustKernel(kernel: () => Float64Array): () => Float64Array {
  return () => clipOutliers(kernel());
}

/**
 * ReLU (R-CONV, docs/algorithm.md §5.5): the architectural estimate draws a random half of the units as active. An
 * inactive unit has δz = 0 (which lowers rank K) and an unknown z, so its forward row is dropped (activeOutputs).
 * δz (N(0,1) on the active units) is drawn only when a numerical path will use it; the pattern does not depend on it.
 */
function reluOutputGradient(n: number, seed: number, withGradient: boolean): { activeOutputs: Uint8Array; outputGradient?: Float64Array } {
  const rng = createRng(seed + 7919);
  const activeOutputs = new Uint8Array(n);
  for (let i = 0; i < n; i++) activeOutputs[i] = rng.uniform() < RELU_ACTIVE_FRACTION ? 1 : 0;
  if (!withGradient) return { activeOutputs };
  const outputGradient = rng.fillNormal(new Float64Array(n));
  for (let i = 0; i < n; i++) if (!activeOutputs[i]) outputGradient[i] = 0;
  return { activeOutputs, outputGradient };
}

/** A fixed linear map: n_z forward rows, rank = outputs whose windows cover distinct inputs (generic averaging). */
function averagePoolSystem(unit: Unit, nX: number, nZ: number): UnitSystem {
  const pool = unit.pool!;
  const [, c, h, w] = unit.inputShape.length === 4 ? unit.inputShape : [1, nX, 1, 1];
  let covered = nX;
  if (!pool.global) {
    const [oh, ow] = windowOutput2d([h, w], pool.kernel, pool.strides, [1, 1], pool.pads);
    const rows = Math.min(h, Math.max(0, (oh - 1) * pool.strides[0] + pool.kernel[0] - pool.pads[0]));
    const cols = Math.min(w, Math.max(0, (ow - 1) * pool.strides[1] + pool.kernel[1] - pool.pads[1]));
    covered = c * rows * cols;
  }
  const rankU = Math.min(nZ, covered);
  const deficiency = nX - rankU;
  return {
    status: statusOf(deficiency, nZ, nX),
    reported: true,
    metrics: { ...countOnly(nX, 0, nZ, 0, { rankU, deficiency, method: 'exact-count' }), rankW: rankU, rankK: 0, uncovered: nX - covered },
  };
}

/**
 * Residual addition y = σ(W₂h + x + b₂). With the identity skip, x = r − W₂h, and the first branch's forward
 * equations become (W₁W₂ + D⁻¹)h = …, a square system that is generically invertible: the block input is pinned
 * (docs/algorithm.md §3.4). Other skips (projections) are not analysed yet.
 */
function residualSystem(unit: Unit, nX: number, nZ: number): UnitSystem {
  if (unit.identitySkip) {
    return {
      status: 'determined',
      reported: true,
      note: 'The skip adds the block input to the branch output: with the block output known, the joint system of the block (branch and skip) pins its input.',
      metrics: countOnly(nX, 0, nZ, 0, { rankU: nX, deficiency: 0, method: 'exact-count' }),
    };
  }
  return {
    status: 'not-analysed',
    reported: true,
    note: 'an addition of two computed branches (a projection skip, or more than two operands) is not analysed yet',
    metrics: countOnly(nX, 0, nZ, 0, {}),
  };
}

function countOnly(nX: number, nW: number, nZ: number, nBias: number, known: { rankU?: number; deficiency?: number; method?: RankMethod }): SystemMetrics {
  return {
    nX,
    nW,
    nZ,
    nBias,
    naive: nX - nW - nZ,
    uncovered: 0,
    rankK: null,
    rankW: null,
    rankU: known.rankU ?? null,
    deficiency: known.deficiency ?? null,
    rankMethod: known.method ?? 'none',
  };
}

function weightCount(unit: Unit): number {
  if (unit.kind === 'dense') return unit.dense!.inFeatures * unit.dense!.outFeatures;
  const c = unit.conv!;
  return c.outChannels * (c.inChannels / c.groups) * c.kernel[0] * c.kernel[1];
}

function biasCount(unit: Unit): number {
  if (!unit.hasBias) return 0;
  return unit.kind === 'dense' ? unit.dense!.outFeatures : unit.conv!.outChannels;
}

export function statusOf(deficiency: number, equations: number, unknowns: number): LayerStatus {
  if (deficiency > 0) return 'under-determined';
  return equations > unknowns ? 'determined' : 'exactly-determined';
}
