// Architectural fixes, each proven by re-analysing a modified copy of the unit graph (fewer filters, a larger
// stride, an added pooling layer, no dense bias). Changed layers get Gaussian surrogate weights: the file has none.
import { sizeOf, type Shape } from '../ir';
import { windowOutput2d } from '../shapes';
import type { Fix } from './types';
import type { AnalysisGraph, Unit } from './units';
import { analyseGraph, type GraphAnalysis, type SystemCache } from './graphAnalysis';
import type { SystemOptions } from './unitSystems';
import { DEFAULT_MAX_FLOPS } from './layerRank/types';

/** At most this many layers get fixes: each fix costs a re-analysis of the layers it changes. */
const MAX_LAYERS_WITH_FIXES = 2;

interface Candidate {
  title: string;
  change: Record<string, unknown>;
  apply(graph: AnalysisGraph, unitId: string): void;
}

export function proposeFixes(analysis: GraphAnalysis, options: SystemOptions, cache: SystemCache): Map<string, Fix[]> {
  const result = new Map<string, Fix[]>();
  for (const unit of targets(analysis)) {
    const before = snapshot(analysis, unit.id);
    const fixes: Fix[] = [];
    for (const candidate of candidatesFor(unit)) {
      const modified = cloneGraph(analysis.graph);
      try {
        candidate.apply(modified, unit.id);
        propagateShapes(modified);
      } catch {
        continue; // the change does not fit this graph (shape clash at a residual addition, empty output, ...)
      }
      // Unchanged layers come from the cache; the changed ones get a budget of their own.
      const fixOptions = { ...options, modelBudget: { remaining: 2 * (options.maxFlops ?? DEFAULT_MAX_FLOPS) } };
      const after = snapshot(analyseGraph(modified, fixOptions, cache), unit.id);
      // Only changes that lower a risk are worth proposing.
      if (after.modelRisk < before.modelRisk || after.layerRisk < before.layerRisk) {
        fixes.push({ title: candidate.title, change: candidate.change, before, after });
      }
    }
    if (fixes.length) result.set(unit.id, fixes);
  }
  return result;
}

/**
 * The layers worth fixing: fully recoverable convolutions and biased dense layers, riskiest first and, among equals,
 * closest to the input (a deficiency there protects the image directly; COPA weighs it most).
 */
function targets(analysis: GraphAnalysis): Unit[] {
  const candidates = analysis.reported.filter((u) => {
    const s = analysis.systems.get(u.id)!;
    const recoverable = s.status === 'determined' || s.status === 'exactly-determined';
    return recoverable && (u.kind === 'conv' || (u.kind === 'dense' && u.hasBias));
  });
  const order = (u: Unit) => analysis.graph.units.indexOf(u);
  candidates.sort((a, b) => analysis.risk.get(b.id)! - analysis.risk.get(a.id)! || order(a) - order(b));
  return candidates.slice(0, MAX_LAYERS_WITH_FIXES);
}

function snapshot(analysis: GraphAnalysis, unitId: string): Fix['before'] {
  const system = analysis.systems.get(unitId);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    layerDeficiency: system?.metrics.deficiency ?? null,
    layerRisk: round(analysis.risk.get(unitId) ?? 0),
    modelRisk: round(analysis.modelRisk),
    copa: analysis.copa.index,
  };
}

function candidatesFor(unit: Unit): Candidate[] {
  if (unit.kind === 'dense') {
    return [
      {
        title: `Drop the bias of ${unit.name}: its input then needs δz from the layers after it`,
        change: { bias: false },
        apply: (g, id) => {
          find(g, id).hasBias = false;
        },
      },
    ];
  }
  const c = unit.conv!;
  const list: Candidate[] = [];
  // Fewest changes that make the naive count positive (n_x > n_w + n_z), which guarantees a deficiency.
  const [outH, outW] = windowOutput2d([c.height, c.width], c.kernel, c.strides, c.dilations, c.pads);
  const perFilter = (c.inChannels / c.groups) * c.kernel[0] * c.kernel[1] + outH * outW;
  const filters = Math.floor((c.inChannels * c.height * c.width - 1) / perFilter);
  const step = c.groups;
  const fewer = Math.floor(filters / step) * step;
  if (fewer >= step && fewer < c.outChannels) {
    list.push({
      title: `Use ${fewer} filters instead of ${c.outChannels} in ${unit.name}`,
      change: { outChannels: fewer },
      apply: (g, id) => {
        const u = find(g, id);
        u.conv = { ...u.conv!, outChannels: fewer };
        u.kernel = undefined;
      },
    });
  }
  const stride: [number, number] = [c.strides[0] + 1, c.strides[1] + 1];
  list.push({
    title: `Use stride ${stride[0]} instead of ${c.strides[0]} in ${unit.name}`,
    change: { strides: stride },
    apply: (g, id) => {
      const u = find(g, id);
      u.conv = { ...u.conv!, strides: stride };
    },
  });
  list.push({
    title: `Add 2×2 average pooling after ${unit.name}`,
    change: { addAvgPool: 2 },
    apply: (g, id) => insertAveragePool(g, id),
  });
  return list;
}

function find(graph: AnalysisGraph, id: string): Unit {
  const unit = graph.units.find((u) => u.id === id);
  if (!unit) throw new Error(`unit ${id} not found`);
  return unit;
}

function cloneGraph(graph: AnalysisGraph): AnalysisGraph {
  return { ...graph, units: graph.units.map((u) => ({ ...u, inputs: [...u.inputs], folded: [...u.folded] })), outputUnits: [...graph.outputUnits] };
}

function insertAveragePool(graph: AnalysisGraph, id: string) {
  const index = graph.units.findIndex((u) => u.id === id);
  const source = graph.units[index];
  const poolId = `${id}/leaklint-avgpool`;
  const pool: Unit = {
    ...source,
    id: poolId,
    name: `${source.name} + AvgPool 2×2`,
    kind: 'avgPool',
    sourceOp: 'AveragePool',
    inputs: [id],
    readsModelInput: false,
    inputShape: source.outputShape,
    conv: undefined,
    dense: undefined,
    kernel: undefined,
    hasBias: false,
    activation: undefined,
    folded: [],
    pool: { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], global: false },
  };
  for (const u of graph.units) u.inputs = u.inputs.map((i) => (i === id ? poolId : i));
  pool.inputs = [id];
  graph.outputUnits = graph.outputUnits.map((o) => (o === id ? poolId : o));
  graph.units.splice(index + 1, 0, pool);
}

/**
 * Recomputes shapes forward after a change. A unit whose input shape changed loses its file weights (the shapes no
 * longer match) and is analysed with surrogates; a shape this code cannot carry through throws.
 */
function propagateShapes(graph: AnalysisGraph) {
  const outputOf = new Map<string, Shape>();
  for (const unit of graph.units) {
    const inputs = unit.inputs.map((i) => outputOf.get(i)!);
    const input = inputs[0] ?? graph.inputShape;
    const changed = sizeOf(input) !== sizeOf(unit.inputShape) || input.join() !== unit.inputShape.join();
    if (changed) unit.kernel = undefined;
    switch (unit.kind) {
      case 'conv': {
        const [, c, h, w] = as4d(input);
        unit.conv = { ...unit.conv!, inChannels: c, height: h, width: w };
        const [oh, ow] = windowOutput2d([h, w], unit.conv.kernel, unit.conv.strides, unit.conv.dilations, unit.conv.pads);
        if (oh < 1 || ow < 1 || c % unit.conv.groups !== 0) throw new Error('empty output');
        unit.inputShape = input;
        unit.outputShape = [1, unit.conv.outChannels, oh, ow];
        break;
      }
      case 'dense': {
        const features = sizeOf(input) / input[0];
        unit.dense = { ...unit.dense!, inFeatures: features };
        unit.inputShape = [1, features];
        break;
      }
      case 'avgPool':
      case 'maxPool': {
        const [, c, h, w] = as4d(input);
        const pool = unit.pool!.global ? { ...unit.pool!, kernel: [h, w] as [number, number] } : unit.pool!;
        unit.pool = pool;
        const [oh, ow] = windowOutput2d([h, w], pool.kernel, pool.strides, [1, 1], pool.pads);
        if (oh < 1 || ow < 1) throw new Error('empty output');
        unit.inputShape = input;
        unit.outputShape = [1, c, oh, ow];
        break;
      }
      case 'residual':
        if (inputs.some((s) => s.join() !== input.join())) throw new Error('residual branches no longer match');
        unit.inputShape = input;
        unit.outputShape = input;
        break;
      default:
        if (changed) throw new Error(`cannot carry a new shape through ${unit.sourceOp}`);
    }
    outputOf.set(unit.id, unit.outputShape);
  }
}

function as4d(shape: Shape): [number, number, number, number] {
  if (shape.length !== 4) throw new Error('not a feature map');
  return shape as [number, number, number, number];
}
