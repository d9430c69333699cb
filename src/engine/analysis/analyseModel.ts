// Graph-level leakage analysis: walks the unit graph, solves each unit's system, and builds the report.
import type { LayerGraph, LayerNode } from '../ir';
import type { Fix, LayerFinding, ModelReport, Severity } from './types';
import { buildAnalysisGraph, type AnalysisGraph, type Unit } from './units';
import { DEFAULT_MAX_NUMERICAL_UNKNOWNS, analyseUnit, type UnitSystem, type SystemOptions } from './unitSystems';
import { CHAIN_BROKEN_PASS, DEFAULT_THRESHOLDS, copaIndex, passOn, rankAnalysisIndex, severityOf } from './metrics';
import { describeUnit, reasonFor, ruleFor } from './reasons';
import { proposeFixes } from './fixes';
import { activationLabel } from './activations';

export interface AnalysisOptions {
  /** Use Gaussian surrogate weights instead of the file's (architecture-only analysis). Default: file weights. */
  surrogateWeights?: boolean;
  /** Seed of the Gaussian surrogates (output gradients, and weights when surrogateWeights). */
  seed?: number;
  /** Memory budget for any dense matrix, in bytes. */
  maxDenseBytes?: number;
  /** Work budget for one layer's numerical rank, in floating-point operations. */
  maxFlopsPerLayer?: number;
  /**
   * Work budget for the whole model (default DEFAULT_MODEL_FLOPS). Layers are analysed in forward order; once it is
   * spent, the remaining layers get the structural bounds. 0 gives the quick audit: counts and bounds only.
   */
  maxFlopsPerModel?: number;
  /** Layers with more unknowns than this get the structural bounds only (default 16384). */
  maxNumericalUnknowns?: number;
  /** Propose fixes (re-analyses modified copies of the graph). Default true. */
  fixes?: boolean;
  /** Risk thresholds: risk ≥ high → high, ≥ medium → medium, else low. */
  thresholds?: { high: number; medium: number };
  /** Called before each layer is analysed (for progress lines). */
  onProgress?: (done: number, total: number, layer: string) => void;
}

/** About ten seconds of numerical rank work on one core; a CIFAR-size network fits well inside it. */
export const DEFAULT_MODEL_FLOPS = 3e10;

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

export function analyseModel(graph: LayerGraph, options: AnalysisOptions = {}): ModelReport {
  const started = performance.now();
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  const unitGraph = buildAnalysisGraph(graph);
  const cache: SystemCache = new Map();
  const systemOptions: SystemOptions = {
    surrogateWeights: options.surrogateWeights ?? false,
    seed: options.seed ?? 1,
    maxDenseBytes: options.maxDenseBytes,
    maxFlops: options.maxFlopsPerLayer,
    modelBudget: { remaining: options.maxFlopsPerModel ?? DEFAULT_MODEL_FLOPS },
    maxNumericalUnknowns: options.maxNumericalUnknowns ?? DEFAULT_MAX_NUMERICAL_UNKNOWNS,
  };
  const analysis = analyseGraph(unitGraph, systemOptions, cache, options.onProgress);
  const fixesFor = options.fixes === false ? new Map<string, Fix[]>() : proposeFixes(analysis, systemOptions, cache);

  const nodeById = new Map(graph.nodes.map((n) => [n.id, n]));
  const copaIndexOf = new Map(analysis.parametric.map((u, i) => [u, i]));
  const raIndexOf = new Map(analysis.counted.map((u, i) => [u, i]));
  const layers: LayerFinding[] = analysis.reported.map((unit, index) => {
    const system = analysis.systems.get(unit.id)!;
    const risk = analysis.risk.get(unit.id)!;
    const copaAt = copaIndexOf.get(unit) ?? -1;
    const raAt = raIndexOf.get(unit) ?? -1;
    return {
      nodeId: unit.id,
      name: unit.name,
      description: describeUnit(unit),
      op: unit.kind,
      index,
      inputShape: unit.inputShape,
      outputShape: unit.outputShape,
      activation: unit.activation ? activationLabel(unit.activation.attrs) : undefined,
      folded: unit.folded,
      status: system.status,
      metrics: {
        ...system.metrics,
        virtualConstraints: raAt >= 0 ? analysis.ra.perLayer[raAt].virtualIn : 0,
        raCount: raAt >= 0 ? analysis.ra.perLayer[raAt].raCount : system.metrics.naive,
        raNumerical: raAt >= 0 ? analysis.ra.perLayer[raAt].raNumerical : null,
        copaWeight: copaAt >= 0 ? analysis.copa.weights[copaAt] : null,
        copaTerm: copaAt >= 0 ? analysis.copa.terms[copaAt] : null,
      },
      risk: round3(risk),
      severity: severityFor(system, risk, thresholds),
      ruleId: ruleFor(unit, system),
      reason: reasonFor(unit, system),
      fixes: fixesFor.get(unit.id) ?? [],
      location: unit.location,
      ...weightFilesOf(nodeById.get(unit.id)),
    };
  });

  const firstDeficient = [...layers].reverse().find((l) => (l.metrics.deficiency ?? 0) > 0);
  const coverage = { numerical: 0, bound: 0, notAnalysed: 0, chainBroken: 0 };
  for (const l of layers) {
    if (l.status === 'not-analysed') coverage.notAnalysed++;
    else if (l.status === 'chain-broken') coverage.chainBroken++;
    else if (l.metrics.rankMethod === 'bound') coverage.bound++;
    else coverage.numerical++;
  }
  return {
    file: graph.file,
    format: graph.format,
    inputShape: unitGraph.inputShape,
    layers,
    model: {
      raIndexCount: analysis.ra.indexCount,
      raIndexNumerical: analysis.ra.indexNumerical,
      copaIndex: analysis.copa.index,
      copaUnrounded: round3(analysis.copa.unrounded),
      firstDeficientLayer: firstDeficient?.nodeId ?? null,
      risk: round3(analysis.modelRisk),
      severity: severityOf(analysis.modelRisk, thresholds) as Severity,
      coverage,
    },
    weights: options.surrogateWeights ? 'surrogate' : 'file',
    warnings: graph.warnings,
    seconds: round3((performance.now() - started) / 1000),
  };
}

/** One full pass: each unit's system, then risk propagated from the output back to the input. */
export function analyseGraph(graph: AnalysisGraph, options: SystemOptions, cache: SystemCache, onProgress?: AnalysisOptions['onProgress']): GraphAnalysis {
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

/** An unanalysed layer is never reported below medium: it is a gap in the audit, not a proof of safety. */
function severityFor(system: UnitSystem, risk: number, thresholds: { high: number; medium: number }): Severity {
  const severity = severityOf(risk, thresholds) as Severity;
  return system.status === 'not-analysed' && severity === 'low' ? 'medium' : severity;
}

function weightFilesOf(node: LayerNode | undefined): { weightFiles?: string[] } {
  const files = new Set(Object.values(node?.weights ?? {}).flatMap((w) => w?.files ?? []));
  return files.size ? { weightFiles: [...files] } : {};
}

function round3(x: number) {
  return Math.round(x * 1000) / 1000;
}
