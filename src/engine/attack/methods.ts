// The attack's methods on one image (docs/gradient-graph.md, "The attack's methods"):
//   closed-form        the R-GAP/COPA recursion from the logits back to the image (reconstruct.ts);
//   gradient-matching  Inverting Gradients from noise, `restarts` runs, on the whole network's gradient graph;
//   hybrid             the closed form down to where it stops or falls short, then gradient matching from its image
//                      (from noise when it stopped before the image: then there is nothing to start from);
//   auto               the closed form where it determines the image; else the hybrid's run and the runs from noise,
//                      and the lowest gradient-matching objective wins (never the unknown true image).
// The gradient graph is built here; a native runtime the caller injects evaluates it.
import type { NamedTensor } from '../readers/safetensors';
import { buildInvertingGradientsGraph } from '../gradientGraph';
import { AttackSetupError } from './network/setupError';
import type { AttackNetwork } from './network/attackNetwork';
import { inputBox, invertGradients, type GradientRuntime, type InvertingGradientsSettings, type OptimisationStep, type Start } from './invertingGradients';
import { recoverTrainingLabel, reconstruct, type Reconstruction } from './reconstruct';
import type { RecoveredLabel } from './labels';
import type { AttackLayerResult, AttackMethod, ForwardTrace, GradientMatchingRun, InputNormalization, ReconstructionMethod, SharedGradients } from './types';

export interface MethodOptions {
  method: AttackMethod;
  settings: InvertingGradientsSettings;
  /** Runs gradient graphs (onnxruntime-node in the worker); absent: gradient matching cannot run. */
  runtime?: GradientRuntime;
  /** Why there is no runtime, in words for the report. */
  unavailable: string;
  normalization: InputNormalization;
  refine?: boolean;
  refineBudgetMs?: number;
  /** The true forward pass (simulated client): per-layer errors of the closed form. */
  truth?: ForwardTrace;
  /** Gradient matching on this image stops here (Date.now()), keeping its best iterate. */
  deadline?: number;
  signal?: AbortSignal;
  onStep?: (step: OptimisationStep & { runs: number; start: 'noise' | 'closed-form' }) => void;
}

export interface ImageReconstruction {
  recovered: RecoveredLabel;
  /** The closed form's layers and where it stopped (empty when the method skipped it). */
  layers: AttackLayerResult[];
  stoppedAt?: { unitId: string; reason: string };
  /** The reconstruction reported, in the model's input space; absent when no method reached the image. */
  input?: Float64Array;
  method?: ReconstructionMethod;
  matching?: GradientMatchingRun;
  /** Why gradient matching did not run where the method wanted it (the network has a layer its graph cannot write). */
  matchingNotRun?: string;
  seconds: { labels: number; solve: number; refine: number; matching: number };
}

/** Gradient matching could not run, and the method needs it: the attack does not run (the message says why). */
export class GradientMatchingUnavailableError extends AttackSetupError {}

/** Reconstructs one image from its shared gradients (per unit, and by parameter name) with the chosen method. */
export async function reconstructImage(
  net: AttackNetwork,
  shared: SharedGradients,
  named: Map<string, NamedTensor>,
  options: MethodOptions,
): Promise<ImageReconstruction> {
  const { method } = options;
  if (method === 'gradient-matching') {
    const t0 = performance.now();
    const recovered = recoverTrainingLabel(net, shared);
    const labels = (performance.now() - t0) / 1000;
    const matched = await matchGradients(net, named, recovered.label, [], options);
    return { recovered, layers: [], ...matched, seconds: { labels, solve: 0, refine: 0, matching: matched.matching.seconds } };
  }
  const closedForm = reconstruct(net, shared, { refine: options.refine, refineBudgetMs: options.refineBudgetMs, truth: options.truth, signal: options.signal });
  const result: ImageReconstruction = {
    recovered: closedForm.recovered,
    layers: closedForm.layers,
    stoppedAt: closedForm.stoppedAt,
    input: closedForm.input,
    method: closedForm.input ? 'closed-form' : undefined,
    seconds: { ...closedForm.seconds, matching: 0 },
  };
  if (method === 'closed-form' || determinesImage(closedForm) || !options.runtime) return result;
  // The closed form stopped or fell short: gradient matching takes over.
  const starts: Start[] = [];
  if (closedForm.input) starts.push({ kind: 'given', x: closedForm.input });
  const noise = method === 'auto' || !closedForm.input;
  let matched: Awaited<ReturnType<typeof matchGradients>>;
  try {
    matched = await matchGradients(net, named, closedForm.label, starts, {
      ...options,
      settings: { ...options.settings, restarts: noise ? options.settings.restarts : 0 },
    });
  } catch (e) {
    // A network the gradient graph cannot be written for keeps the closed form's result, and the report says why.
    if (!(e instanceof AttackSetupError) || e instanceof GradientMatchingUnavailableError) throw e;
    return { ...result, matchingNotRun: `gradient matching did not run: ${e.message}` };
  }
  return { ...result, ...matched, seconds: { ...result.seconds, matching: matched.matching.seconds } };
}

/**
 * The closed form determines the image: it reached it, and no layer was under-determined (fewer equations than
 * unknowns, or a rank below them where the solver computed one) or inconsistent (a residual above rounding). A
 * layer LSQR solved gives no rank: a numerically deficient layer whose system is consistent is not seen here.
 */
export function determinesImage(closedForm: Reconstruction): boolean {
  if (!closedForm.input) return false;
  return closedForm.layers.every(
    (l) => l.equations >= l.unknowns && (l.rank === undefined || l.rank >= l.unknowns) && l.relativeResidual <= DETERMINED_RESIDUAL,
  );
}

/** A solved layer system whose relative residual is above this is inconsistent (a layer above it fell short). */
const DETERMINED_RESIDUAL = 1e-8;

async function matchGradients(
  net: AttackNetwork,
  named: Map<string, NamedTensor>,
  label: number,
  given: Start[],
  options: MethodOptions,
): Promise<{ input: Float64Array; method: ReconstructionMethod; matching: GradientMatchingRun }> {
  if (!options.runtime) throw new GradientMatchingUnavailableError(options.unavailable);
  const t0 = performance.now();
  const { settings } = options;
  const starts: Start[] = [...given];
  for (let r = 0; r < settings.restarts; r++) starts.push({ kind: 'noise', seed: settings.seed + r });
  const startKind = (run: number): 'noise' | 'closed-form' => (starts[run].kind === 'given' ? 'closed-form' : 'noise');
  const graph = buildInvertingGradientsGraph(net, { label, shared: named, tvWeight: settings.tvWeight });
  const evaluator = await options.runtime(graph);
  try {
    const result = await invertGradients(evaluator, {
      box: inputBox(net.inputShape, options.normalization),
      settings,
      starts,
      deadline: options.deadline,
      signal: options.signal,
      onStep: options.onStep ? (step) => options.onStep!({ ...step, runs: starts.length, start: startKind(step.run) }) : undefined,
    });
    const start = startKind(result.run);
    // The run from the closed form's image that never improved on it leaves the closed form's reconstruction.
    const method: ReconstructionMethod = start === 'noise' ? 'gradient-matching' : result.iteration === 0 ? 'closed-form' : 'hybrid';
    return {
      input: Float64Array.from(result.x),
      method,
      matching: {
        iterations: result.iterations,
        runs: result.runs,
        stoppedBy: result.stoppedBy,
        loss: result.loss,
        ...(given.length ? { closedFormLoss: result.startLosses[0] } : {}),
        start,
        seconds: (performance.now() - t0) / 1000,
        curve: result.curve,
        curveStride: result.curveStride,
      },
    };
  } finally {
    await evaluator.release();
  }
}
