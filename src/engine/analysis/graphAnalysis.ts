// One analysis pass over a unit graph: each unit's system, the graph-level indices (RA-i, COPA) and the risk
// propagated from the output back to the input. analyseModel runs it on the model, fixes on modified copies.
import type { Unit, AnalysisGraph } from './units';
import { analyseUnit, type SystemOptions, type UnitSystem } from './unitSystems';
import { CHAIN_BROKEN_PASS, copaIndex, passOn, rankAnalysisIndex } from './metrics';

/** Called before each layer is analysed (for progress lines). */
export type ProgressCallback = (done: number, total: number, layer: string) => void;

/** Per-unit outcome of one analysis pass over a (possibly modified) unit graph. */
export interface GraphAnalysis {
  graph: AnalysisGraph;
  systems: Map<string, UnitSystem>;
  risk: Map<string, number>;
  modelRisk: number;
  copa: ReturnType<typeof copaIndex>;
  ra: ReturnType<typeof rankAnalysisIndex>;
  /** Units that appear in the report, forward order. */
  reported: Unit[];
  /** Parametric units (conv, dense), forward order: the COPA layers. */
  parametric: Unit[];
  /** Units entering the R-GAP count (parametric and pooling), forward order. */
  counted: Unit[];
}

/** Cache of unit systems keyed by geometry and weights, shared across the fix re-analyses. */
export type SystemCache = Map<string, UnitSystem>;

/** One full pass: each unit's system, then risk propagated from the output back to the input. */
export function analyseGraph(graph: AnalysisGraph, options: SystemOptions, cache: SystemCache, onProgress?: ProgressCallback): GraphAnalysis {
  const systems = new Map<string, UnitSystem>();
  graph.units.forEach((unit, i) => {
    onProgress?.(i, graph.units.length, unit.name);
    systems.set(unit.id, analyseUnit(unit, options, cache));
  });

  const risk = propagateRisk(graph, systems);
  const reported = graph.units.filter((u) => systems.get(u.id)!.reported);
  const parametric = graph.units.filter((u) => u.kind === 'conv' || u.kind === 'dense');
  const counted = graph.units.filter((u) => ['conv', 'dense', 'avgPool', 'maxPool'].includes(u.kind));
  const copa = copaIndex(parametric.map((u) => systems.get(u.id)!.metrics.deficiency ?? 0));
  const ra = rankAnalysisIndex(
    counted.map((u) => {
      const m = systems.get(u.id)!.metrics;
      return { nX: m.nX, nParams: m.nW + m.nBias, nZ: m.nZ, rankU: m.rankU };
    }),
  );
  const modelRisk = Math.max(0, ...entryUnits(graph, reported).map((u) => risk.get(u.id) ?? 0));
  return { graph, systems, risk, modelRisk, copa, ra, reported, parametric, counted };
}

/**
 * The reported units that read the image: directly, or through units that are not reported (pass-through maps).
 * A model without any is a model without gradients to share: nothing to leak.
 */
function entryUnits(graph: AnalysisGraph, reported: Unit[]): Unit[] {
  const isReported = new Set(reported.map((u) => u.id));
  const readsImage = new Map<string, boolean>();
  for (const u of graph.units) {
    const viaPassThrough = u.inputs.some((i) => !isReported.has(i) && readsImage.get(i));
    readsImage.set(u.id, u.readsModelInput || viaPassThrough);
  }
  return reported.filter((u) => readsImage.get(u.id));
}

/**
 * Risk of a unit = reach × own: `own` is the fraction of its input its own system determines; `reach` is how well
 * the recursion arrives at its output, the best path over its consumers, each passing on what it lets through.
 * A dense layer with a bias needs nothing from later layers (x = Gᵀg/‖g‖²), so its reach is 1.
 */
function propagateRisk(graph: AnalysisGraph, systems: Map<string, UnitSystem>): Map<string, number> {
  const consumers = new Map<string, Unit[]>();
  for (const u of graph.units) {
    for (const i of u.inputs) {
      const list = consumers.get(i);
      if (list) list.push(u);
      else consumers.set(i, [u]);
    }
  }
  const outputs = new Set(graph.outputUnits);
  const reach = new Map<string, number>();
  const risk = new Map<string, number>();
  for (let k = graph.units.length - 1; k >= 0; k--) {
    const unit = graph.units[k];
    const system = systems.get(unit.id)!;
    let unitReach = outputs.has(unit.id) || (unit.kind === 'dense' && unit.hasBias) ? 1 : 0;
    for (const c of consumers.get(unit.id) ?? []) unitReach = Math.max(unitReach, reach.get(c.id)! * passThroughFactor(systems.get(c.id)!));
    reach.set(unit.id, unitReach);
    risk.set(unit.id, unitReach * ownFactor(system));
  }
  return risk;
}

function ownFraction(system: UnitSystem): number {
  const { nX, deficiency } = system.metrics;
  return nX > 0 && deficiency !== null ? 1 - deficiency / nX : 1;
}

/** What a unit lets through to the units below it. */
function passThroughFactor(system: UnitSystem): number {
  // Nothing shows that an unanalysed layer stops the recursion: it lets everything through.
  if (system.status === 'not-analysed') return 1;
  // Past a broken chain only gradient matching goes on; dimensions the layer drops (max pooling) stay dropped.
  if (system.status === 'chain-broken') return Math.min(CHAIN_BROKEN_PASS, passOn(ownFraction(system)));
  return passOn(ownFraction(system));
}

/** How much of its own input a unit exposes, once its output is known. Unanalysed units count as exposed. */
function ownFactor(system: UnitSystem): number {
  if (system.status === 'not-analysed') return 1;
  if (system.status === 'chain-broken') return Math.min(CHAIN_BROKEN_PASS, ownFraction(system));
  return ownFraction(system);
}
