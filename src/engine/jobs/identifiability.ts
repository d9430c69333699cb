// Gradient-matching identifiability of one model file: read it, fit the first sample image to its input, and find the
// rank of J = ∂(∇θ loss)/∂image (whole model and per layer) from Jᵀu products the caller's runtime computes. The
// worker calls this with onnxruntime-node; the engine only builds the graphs.
import { attackOptionsOf } from './attack';
import { readJobModel, type Trust } from './audit';
import { toModelFailure, type Failed, type JobContext } from './types';
import { AttackNetwork } from '../attack/network/attackNetwork';
import type { InputNormalization } from '../attack/types';
import type { LeakLintConfig } from '../config';
import { analyseIdentifiability, type IdentifiabilityReport, type JacobianProductRunner } from '../identifiability/jacobianRank';

export type { IdentifiabilityReport };
import { loadSampleImages } from '../images/modelInput';
import { isModelReadError } from '../errors';

export type IdentifiabilityOutcome =
  | { kind: 'identifiability'; report: IdentifiabilityReport }
  /** The model was read, but the rank cannot be taken (no classifier the gradient graph supports, no image...). */
  | { kind: 'not-run'; file: string; reason: string }
  | Failed;

export interface IdentifiabilityJobOptions {
  /** The folder of sample images; the first (by name) is used. */
  imageFolder: string;
  normalization: InputNormalization;
  /** Label of the simulated step (default 0: the attack's label for its first image). */
  label?: number;
  /** Caps on Jᵀu products (IDENTIFIABILITY_DEFAULTS has the audit's; Infinity lifts one). */
  maxColumns?: number;
  multiplyAdds?: number;
  layerColumns?: number;
  timeBudgetSeconds?: number;
  perLayer?: boolean;
}

export interface IdentifiabilityContext extends JobContext, Trust {
  /** Runs the Jᵀu graphs (the worker's onnxruntime-node). */
  products: JacobianProductRunner;
}

/** The time budget of an exact rank: a 3×32×32 model takes 5-45 s on a 2-core machine (docs/verdict.md). */
const EXACT_TIME_BUDGET_SECONDS = 600;

/**
 * The image, normalisation and label the attack would use for its first image; `identifiability: "exact"` lifts the
 * column caps (and gives the job ten minutes).
 */
export function identifiabilityOptionsOf(
  config: Pick<LeakLintConfig, 'attack' | 'baseDir' | 'identifiability'>,
  bundledSamples: string,
): IdentifiabilityJobOptions {
  const attack = attackOptionsOf(config, bundledSamples);
  return {
    imageFolder: attack.imageFolder ?? bundledSamples,
    normalization: attack.normalization ?? { mean: [0], std: [1] },
    ...(attack.label !== undefined ? { label: attack.label } : {}),
    ...(config.identifiability === 'exact'
      ? { maxColumns: Infinity, multiplyAdds: Infinity, layerColumns: Infinity, timeBudgetSeconds: EXACT_TIME_BUDGET_SECONDS }
      : {}),
  };
}

export async function identifiabilityOfFile(
  file: string,
  config: Pick<LeakLintConfig, 'inputShape'>,
  options: IdentifiabilityJobOptions,
  context: IdentifiabilityContext,
): Promise<IdentifiabilityOutcome> {
  const read = await readJobModel(file, config, context);
  if ('failure' in read) return { kind: 'failure', failure: read.failure };
  const { graph } = read;
  try {
    const net = AttackNetwork.fromGraph(graph);
    const [sample] = await loadSampleImages(context.files, options.imageFolder, net.inputShape, options.normalization, { limit: 1 });
    const label = options.label ?? 0;
    const analysis = await analyseIdentifiability(net, sample.input, context.products, {
      label,
      ...(options.maxColumns !== undefined ? { maxColumns: options.maxColumns } : {}),
      ...(options.multiplyAdds !== undefined ? { multiplyAdds: options.multiplyAdds } : {}),
      ...(options.layerColumns !== undefined ? { layerColumns: options.layerColumns } : {}),
      ...(options.timeBudgetSeconds !== undefined ? { timeBudgetSeconds: options.timeBudgetSeconds } : {}),
      ...(options.perLayer !== undefined ? { perLayer: options.perLayer } : {}),
      signal: context.signal,
      onProgress: context.onProgress,
    });
    return { kind: 'identifiability', report: { file: graph.file, image: sample.name, label, ...analysis } };
  } catch (e) {
    if (context.signal?.aborted) throw e;
    // Weights the analysis tolerates (NaN in a statistic...) can still stop the network the rank is taken on.
    if (isModelReadError(e)) return { kind: 'failure', failure: toModelFailure(file, e, 'analysing') };
    return { kind: 'not-run', file: graph.file, reason: e instanceof Error ? e.message : String(e) };
  }
}
