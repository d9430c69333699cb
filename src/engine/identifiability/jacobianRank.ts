// Gradient-matching identifiability: the numerical rank of J = ∂(∇θ loss)/∂x at a sample image, from Jᵀu products
// that the background runtime computes with the Jᵀu graph (src/engine/gradientGraph/jacobianTranspose). Full rank: the
// image is locally identifiable from the shared gradients, whatever the layers; a deficient J leaves directions of the
// image the gradients do not see. Also the rank of J restricted to each layer's parameter block: which layers'
// gradients carry the image. The columns are streamed into a QR with a stopping rule and a cap (docs/verdict.md).
import type { AttackNetwork } from '../attack/network/attackNetwork';
import { buildJacobianTransposeGraph, type JacobianTransposeGraph } from '../gradientGraph';
import { lowerNetwork, type LoweredNetwork } from '../gradientGraph/lowering';
import { createRng } from '../numerics/random';
import { StreamedColumnRank } from './columnRank';

/** One onnxruntime session of a Jᵀu graph: fed x and u, returns Jᵀu (x's size). */
export interface JacobianProductSession {
  run(x: Float32Array, u: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Opens a session for a Jᵀu graph (the worker's onnxruntime-node; tests may pass the same). */
export type JacobianProductRunner = (graph: JacobianTransposeGraph) => Promise<JacobianProductSession>;

/**
 * How the rank was found. exact: the columns settled it (every direction, or a run of columns with nothing new);
 * lower-bound: a cap or the time budget came first, so J has at least that rank. Whether it is the whole image's or
 * a centre patch's is said apart (IdentifiabilityAnalysis.patch).
 */
export type JacobianRankMethod = 'exact' | 'lower-bound';

export interface RankOfJ {
  rank: number;
  /** The unknowns the rank is of (the image's, or the patch's). */
  unknowns: number;
  method: JacobianRankMethod;
  /** Jᵀu products used. */
  columns: number;
}

export interface LayerRankOfJ extends RankOfJ {
  nodeId: string;
  name: string;
  /** Entries of the layer's parameter gradients (the rows of its block of J). */
  parameters: number;
}

export interface IdentifiabilityAnalysis extends RankOfJ {
  /**
   * Set when the image has more unknowns than the rank takes (IDENTIFIABILITY_DEFAULTS.exactUnknowns): the rank is
   * then J's restricted to this centre patch, all channels × height × width from (top, left), the other pixels held
   * known. A deficient patch proves J deficient; a full one does not prove J full.
   */
  patch?: { top: number; left: number; height: number; width: number };
  relativeTolerance: number;
  layers: LayerRankOfJ[];
}

/** What the rank was taken at, and what it is: the evidence the verdict and every report show. */
export interface IdentifiabilityReport extends IdentifiabilityAnalysis {
  file: string;
  /** The sample image (file name) and the label of the simulated step. */
  image: string;
  label: number;
}

/**
 * The audit's defaults (docs/verdict.md has the measurements behind them). The caps are deterministic, so the same
 * model gets the same rank on every machine; the time budget is only a safety net for networks whose products are
 * far slower than their size says.
 */
export const IDENTIFIABILITY_DEFAULTS = {
  /**
   * The whole model's rank stops after this many multiply-adds of products (a product costs about a few forward
   * passes; counted as the forward pass's multiply-adds). The exact rank of a 3×32×32 image (3088 products) fits for
   * networks up to 39 M multiply-adds (the VGG-style fixture has 24.5 M: 7.6·10¹⁰); an ImageNet network gets a few
   * hundred products on its centre patch, a lower bound.
   */
  multiplyAdds: 1.2e11,
  /**
   * At most this many products for each layer's rank (exact up to rank 32: the small blocks, a layer with few
   * weights), at most 512 over all layers (deep networks get fewer per layer), and at most a quarter of
   * `multiplyAdds` together.
   */
  layerColumns: 48,
  /** Seconds for the whole job; past it the rank is a lower bound and the layers not reached have no rank. */
  timeBudgetSeconds: 90,
  /**
   * Seconds when the rank is a centre patch's (a large image): a patch's rank can show a deficiency but never full
   * identifiability, so it is worth less time (an ImageNet network's product takes a second or more).
   */
  patchTimeBudgetSeconds: 30,
  /** Beyond this many unknowns the rank is a centre patch's of at most this size. */
  exactUnknowns: 3 * 32 * 32,
  /** Singular values below this fraction of σ_max do not count (float32 products carry ≈ 3e-7 relative noise). */
  relativeTolerance: 1e-6,
} as const;

/** Products for all the per-layer ranks together, by default (each layer gets at least 16). */
const LAYER_COLUMNS_TOTAL = 512;
/** Columns beyond the unknowns that certify full rank. */
const OVERSAMPLING = 16;
/** The stopping rule's run of columns with nothing new. */
const QUIET_COLUMNS = 32;
/** Columns factored at a time (and between stopping-rule checks). */
const PANEL = 32;

export interface IdentifiabilityOptions {
  label: number;
  /** Cap on the whole model's products (default: what IDENTIFIABILITY_DEFAULTS.multiplyAdds allows). */
  maxColumns?: number;
  /** The multiply-add cap (Infinity: none). */
  multiplyAdds?: number;
  layerColumns?: number;
  exactUnknowns?: number;
  timeBudgetSeconds?: number;
  relativeTolerance?: number;
  /** Ranks of each layer's block too (default true). */
  perLayer?: boolean;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** J's rank at `x` (the model input, flat CHW), and its per-layer ranks. */
export async function analyseIdentifiability(
  net: AttackNetwork,
  x: ArrayLike<number>,
  runner: JacobianProductRunner,
  options: IdentifiabilityOptions,
): Promise<IdentifiabilityAnalysis> {
  const lowered = lowerNetwork(net);
  const cost = Math.max(1, forwardMultiplyAdds(lowered));
  const multiplyAdds = options.multiplyAdds ?? IDENTIFIABILITY_DEFAULTS.multiplyAdds;
  const maxColumns = Math.max(1, Math.min(options.maxColumns ?? Infinity, Math.floor(multiplyAdds / cost)));
  const relativeTolerance = options.relativeTolerance ?? IDENTIFIABILITY_DEFAULTS.relativeTolerance;
  const [C, H, W] = net.inputShape;
  const patch = patchOf([C, H, W], options.exactUnknowns ?? IDENTIFIABILITY_DEFAULTS.exactUnknowns);
  const seconds = options.timeBudgetSeconds ?? (patch ? IDENTIFIABILITY_DEFAULTS.patchTimeBudgetSeconds : IDENTIFIABILITY_DEFAULTS.timeBudgetSeconds);
  const deadline = performance.now() + seconds * 1000;
  const indices = patch ? patchIndices([C, H, W], patch) : undefined;
  const x32 = Float32Array.from(x);
  const blocks = layerBlocks(lowered);
  const jobs: { nodeId?: string; parameters?: string[] }[] = [{}];
  if (options.perLayer ?? true) for (const b of blocks) jobs.push({ nodeId: b.nodeId, parameters: b.parameters });
  const layerColumns = Math.max(1, Math.min(maxColumns, options.layerColumns ?? defaultLayerColumns(blocks.length, multiplyAdds / cost)));
  // One graph and one session for all the ranks: a layer's block of J is Jᵀu with u zero outside the block's entries
  // (a session per layer would cost more to create than its products).
  const graph = buildJacobianTransposeGraph(net, { label: options.label, lowered });
  const offsets = new Map<string, [number, number]>();
  let offset = 0;
  for (const p of graph.parameters) {
    offsets.set(p.name, [offset, p.size]);
    offset += p.size;
  }
  const session = await runner(graph);
  const results: RankOfJ[] = [];
  try {
    for (const [index, job] of jobs.entries()) {
      options.signal?.throwIfAborted();
      if (index > 0 && performance.now() > deadline) break;
      options.onProgress?.(index, jobs.length, job.nodeId ? `rank of J for ${nameOf(net, job.nodeId)}` : 'rank of J');
      results.push(
        await rankFromProducts(session, graph, x32, indices, {
          ranges: job.parameters?.map((name) => offsets.get(name)!),
          maxColumns: job.nodeId ? layerColumns : maxColumns,
          relativeTolerance,
          seed: (options.seed ?? 1) + index,
          signal: options.signal,
          deadline,
        }),
      );
    }
  } finally {
    await session.release();
  }
  options.onProgress?.(jobs.length, jobs.length, 'rank of J');
  const [whole, ...perLayer] = results;
  return {
    ...whole,
    ...(patch ? { patch: { top: patch.top, left: patch.left, height: patch.height, width: patch.width } } : {}),
    relativeTolerance,
    // Layers the time budget did not reach are left out (their rank is unknown, not zero).
    layers: perLayer.map((r, i) => ({
      ...r,
      nodeId: jobs[i + 1].nodeId!,
      name: nameOf(net, jobs[i + 1].nodeId!),
      parameters: blocks[i].size,
    })),
  };
}

/** Streams Jᵀu for random-sign u (restricted to `indices` when given) into the column rank until it settles or the cap. */
async function rankFromProducts(
  session: JacobianProductSession,
  graph: JacobianTransposeGraph,
  x: Float32Array,
  indices: Int32Array | undefined,
  options: {
    /** [offset, size] of the parameter entries u runs over (default: all of them). */
    ranges?: [number, number][];
    maxColumns: number;
    relativeTolerance: number;
    seed: number;
    signal?: AbortSignal;
    deadline: number;
  },
): Promise<RankOfJ> {
  const unknowns = indices ? indices.length : x.length;
  const ranges = options.ranges ?? [[0, graph.inputs.u.shape[0]]];
  const parameters = ranges.reduce((sum, [, size]) => sum + size, 0);
  // J has at most min(P, unknowns) independent columns: more products than that add nothing.
  const needed = Math.min(unknowns, parameters) + OVERSAMPLING;
  const limit = Math.min(options.maxColumns, needed);
  const stream = new StreamedColumnRank(unknowns, options.relativeTolerance, QUIET_COLUMNS);
  const rng = createRng(options.seed);
  const u = new Float32Array(graph.inputs.u.shape[0]);
  const column = new Float64Array(unknowns);
  let settled = false;
  while (stream.columns < limit && !settled && (stream.columns === 0 || performance.now() < options.deadline)) {
    options.signal?.throwIfAborted();
    // Random signs rather than Gaussians: as good a sketch of the row space (Rademacher test vectors), and 30x cheaper
    // to draw for 10⁵-entry vectors.
    for (const [start, size] of ranges) rng.fillSigns(u, start, start + size);
    const product = await session.run(x, u);
    if (indices) for (let i = 0; i < unknowns; i++) column[i] = product[indices[i]];
    else column.set(product);
    stream.add(column);
    if (stream.columns % PANEL === 0) settled = stream.columns >= needed || stream.settled(OVERSAMPLING);
  }
  const decided = stream.decide();
  const exact = settled || stream.columns >= needed;
  return { rank: decided.rank, unknowns, method: exact ? 'exact' : 'lower-bound', columns: stream.columns };
}

/** The layers with trainable parameters, in forward order, with their tensors (one tensor counted once). */
export function layerBlocks(lowered: LoweredNetwork): { nodeId: string; parameters: string[]; size: number }[] {
  const seen = new Set<string>();
  const layers: { nodeId: string; parameters: string[]; size: number }[] = [];
  for (const op of lowered.ops) {
    const fresh = op.parameters.filter((b) => !seen.has(b.name));
    for (const b of fresh) seen.add(b.name);
    if (fresh.length === 0) continue;
    layers.push({ nodeId: op.nodeId, parameters: fresh.map((b) => b.name), size: fresh.reduce((s, b) => s + b.shape.reduce((a, d) => a * d, 1), 0) });
  }
  return layers;
}

/**
 * Products per layer by default: 48 each, the layers sharing at most 512 and a quarter of the products the
 * multiply-add cap allows, but never fewer than 16 each.
 */
function defaultLayerColumns(layers: number, affordableProducts: number): number {
  const total = Math.min(LAYER_COLUMNS_TOTAL, Math.floor(affordableProducts / 4));
  return Math.max(16, Math.min(IDENTIFIABILITY_DEFAULTS.layerColumns, Math.floor(total / Math.max(1, layers))));
}

/** Multiply-adds of the forward pass: each parameter entry once per output position (the products' cost unit). */
export function forwardMultiplyAdds(lowered: LoweredNetwork): number {
  let total = 0;
  for (const op of lowered.ops) {
    const positions = lowered.slotShapes[op.output].slice(2).reduce((a, d) => a * d, 1);
    for (const p of op.parameters) total += p.shape.reduce((a, d) => a * d, 1) * positions;
  }
  return total;
}

function nameOf(net: AttackNetwork, nodeId: string): string {
  return net.graph.nodes.find((n) => n.id === nodeId)?.name ?? nodeId;
}

/** The centre patch (all channels, as square as fits) when the image has more than `limit` unknowns. */
export function patchOf([C, H, W]: [number, number, number], limit: number): { top: number; left: number; height: number; width: number } | undefined {
  if (C * H * W <= limit) return undefined;
  const side = Math.max(1, Math.floor(Math.sqrt(limit / C)));
  const height = Math.min(H, side);
  const width = Math.min(W, Math.max(1, Math.floor(limit / (C * height))));
  return { top: Math.floor((H - height) / 2), left: Math.floor((W - width) / 2), height, width };
}

function patchIndices([C, H, W]: [number, number, number], p: { top: number; left: number; height: number; width: number }): Int32Array {
  const out = new Int32Array(C * p.height * p.width);
  let k = 0;
  for (let c = 0; c < C; c++) for (let y = p.top; y < p.top + p.height; y++) for (let x = p.left; x < p.left + p.width; x++) out[k++] = c * H * W + y * W + x;
  return out;
}
