// The model report: one analysis pass over the unit graph (graphAnalysis.ts), the proposed fixes, and per-layer findings.
import type { LayerGraph, LayerNode } from '../ir';
import type { Fix, LayerFinding, ModelReport } from './types';
import { analyseGraph, type ProgressCallback, type SystemCache } from './graphAnalysis';
import { buildAnalysisGraph } from './units';
import { DEFAULT_MAX_NUMERICAL_UNKNOWNS, type SystemOptions } from './unitSystems';
import { DEFAULT_THRESHOLDS } from './metrics';
import { imagePathOf } from './imagePath';
import { capSeverity, decideVerdict, layerSeverity, staticEvidence } from '../verdict/decide';
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
  onProgress?: ProgressCallback;
}

/** About ten seconds of numerical rank work on one core; a CIFAR-size network fits well inside it. */
export const DEFAULT_MODEL_FLOPS = 3e10;

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
  const imagePath = imagePathOf(analysis);
  const verdict = decideVerdict(
    staticEvidence({ risk: round3(analysis.modelRisk), hasImageLayers: imagePath.hasImageLayers, stops: imagePath.stops }, thresholds),
    thresholds,
  );
  const readsImage = new Set(analysis.graph.units.filter((u) => u.readsModelInput).map((u) => u.id));
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
      severity: capSeverity(layerSeverity(system.status, risk, thresholds), verdict.severity),
      ruleId: ruleFor(unit, system),
      reason: reasonFor(unit, system, readsImage.has(unit.id) ? 'image' : 'feature map'),
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
  const indices = {
    copaIndex: analysis.copa.index,
    copaUnrounded: round3(analysis.copa.unrounded),
    raIndexCount: analysis.ra.indexCount,
    raIndexNumerical: analysis.ra.indexNumerical,
  };
  // COPA and RA-i measure the closed-form chain: where it is broken before the image, they do not apply.
  const applicable = imagePath.brokenAt === undefined;
  return {
    file: graph.file,
    format: graph.format,
    inputShape: unitGraph.inputShape,
    layers,
    model: {
      ...(applicable
        ? indices
        : {
            copaIndex: null,
            copaUnrounded: null,
            raIndexCount: null,
            raIndexNumerical: null,
            notApplicable: `not applicable: the closed-form chain is broken at ${imagePath.brokenAt!.name}`,
            partial: indices,
          }),
      firstDeficientLayer: firstDeficient?.nodeId ?? null,
      risk: verdict.risk,
      severity: verdict.severity,
      verdict,
      coverage,
    },
    weights: options.surrogateWeights ? 'surrogate' : 'file',
    thresholds: { high: thresholds.high, medium: thresholds.medium },
    warnings: graph.warnings,
    seconds: round3((performance.now() - started) / 1000),
  };
}

function weightFilesOf(node: LayerNode | undefined): { weightFiles?: string[] } {
  const files = new Set(Object.values(node?.weights ?? {}).flatMap((w) => w?.files ?? []));
  return files.size ? { weightFiles: [...files] } : {};
}

function round3(x: number) {
  return Math.round(x * 1000) / 1000;
}
