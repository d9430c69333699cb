// Inverting Gradients (Geiping et al., NeurIPS 2020), the optimiser: from Gaussian noise, Adam on the signs of the
// objective's image gradient, learning rate 0.1 cut by 10 at 3/8, 5/8 and 7/8 of the iterations, every step clamped
// to the box of valid inputs, the best of a few restarts. The objective and its gradient come from a gradient graph
// (src/engine/gradientGraph) that a native runtime evaluates: the engine never runs onnxruntime itself, the worker
// hands it a `GradientRuntime` (docs/gradient-graph.md).
import type { GradientGraph } from '../gradientGraph';
import { createRng } from '../numerics/random';

/** The objective L(x) and ∂L/∂x at one point (float32, the fed tensor's layout). */
export interface GradientEvaluation {
  loss: number;
  gradient: Float32Array;
}

/** One gradient graph, loaded in a runtime. */
export interface GradientEvaluator {
  evaluate(x: Float32Array): Promise<GradientEvaluation>;
  release(): Promise<void>;
}

/** The native capability that runs gradient graphs (onnxruntime-node in the worker; absent in an untrusted workspace). */
export type GradientRuntime = (graph: GradientGraph) => Promise<GradientEvaluator>;

export interface InvertingGradientsSettings {
  /** Adam steps per restart. */
  iterations: number;
  /** Runs from fresh noise (seeds seed, seed + 1, ...); the one with the lowest objective wins. */
  restarts: number;
  /** Weight of the total-variation prior. */
  tvWeight: number;
  learningRate: number;
  /** Seed of the first run's starting noise. */
  seed: number;
}

/**
 * The paper's settings (Adam lr 0.1, 2000 iterations, restarts), with the TV weight chosen here on sample images the tests
 * do not evaluate on (docs/gradient-graph.md, "Defaults").
 */
export const INVERTING_GRADIENTS_DEFAULTS: InvertingGradientsSettings = { iterations: 2000, restarts: 2, tvWeight: 1e-3, learningRate: 0.1, seed: 1 };

/** Learning-rate cuts (×0.1) at these fractions of the iterations (the paper's MultiStepLR). */
const DECAY_AT = [3 / 8, 5 / 8, 7 / 8];
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;
/** Give the event loop a turn this often, so that a cancel message reaches the job while the native runtime works. */
const YIELD_EVERY_MS = 50;

/** Valid values per input entry: the image box [0, 1] after the input normalisation. */
export interface InputBox {
  lower: Float32Array;
  upper: Float32Array;
}

export interface OptimisationStep {
  /** The run (an index into `starts`). */
  run: number;
  /** Steps taken in this run. */
  iteration: number;
  loss: number;
  /** The current iterate (the optimiser's own buffer: copy what you keep). */
  x: Float32Array;
}

/** Where a run starts: seeded Gaussian noise, or a given point (the hybrid: the closed form's image). */
export type Start = { kind: 'noise'; seed: number } | { kind: 'given'; x: ArrayLike<number> };

export interface InvertOptions {
  box: InputBox;
  settings: Pick<InvertingGradientsSettings, 'iterations' | 'learningRate'>;
  /** One run per start, in order (the paper's restarts are noise starts with different seeds). */
  starts: Start[];
  /** Stop (keeping the best iterate so far) when Date.now() passes this. */
  deadline?: number;
  signal?: AbortSignal;
  /** Called after every evaluation; the caller throttles what it does with it. */
  onStep?: (step: OptimisationStep) => void;
}

export interface InversionResult {
  /** The iterate with the lowest objective over all runs. */
  x: Float32Array;
  loss: number;
  /** The run it came from, and the step within it (0: the start itself). */
  run: number;
  iteration: number;
  /** The objective at each start (its first evaluation). */
  startLosses: number[];
  /** Steps taken, over all runs. */
  iterations: number;
  /** Runs begun (the last may have been cut short by the deadline). */
  runs: number;
  stoppedBy: 'iterations' | 'time';
  /** The objective of the winning run, every `curveStride` steps (the loss curve). */
  curve: number[];
  curveStride: number;
}

/** Loss samples kept per run (the curve in reports and the webview). */
const CURVE_POINTS = 200;

interface RunResult {
  x: Float32Array;
  loss: number;
  iteration: number;
  startLoss: number;
  iterations: number;
  stoppedBy: InversionResult['stoppedBy'];
  curve: number[];
}

/** Inverting Gradients on one objective: one run of signed Adam within the box per start; the lowest objective wins. */
export async function invertGradients(evaluator: GradientEvaluator, options: InvertOptions): Promise<InversionResult> {
  const { box, settings, starts } = options;
  if (starts.length === 0) throw new RangeError('Inverting Gradients needs at least one start');
  const curveStride = Math.max(1, Math.ceil(settings.iterations / CURVE_POINTS));
  let best: (RunResult & { run: number }) | undefined;
  const startLosses: number[] = [];
  let iterations = 0;
  let stoppedBy: InversionResult['stoppedBy'] = 'iterations';
  for (const [run, start] of starts.entries()) {
    if (run > 0 && pastDeadline(options.deadline)) {
      stoppedBy = 'time';
      break;
    }
    const x = start.kind === 'noise' ? startingNoise(box, start.seed) : clampToBox(start.x, box);
    const result = await oneRun(evaluator, x, run, options, curveStride);
    startLosses.push(result.startLoss);
    iterations += result.iterations;
    if (!best || result.loss < best.loss) best = { ...result, run };
    if (result.stoppedBy === 'time') {
      stoppedBy = 'time';
      break;
    }
  }
  const winner = best!;
  return {
    x: winner.x,
    loss: winner.loss,
    run: winner.run,
    iteration: winner.iteration,
    startLosses,
    iterations,
    runs: startLosses.length,
    stoppedBy,
    curve: winner.curve,
    curveStride,
  };
}

async function oneRun(evaluator: GradientEvaluator, x: Float32Array, run: number, options: InvertOptions, curveStride: number): Promise<RunResult> {
  const { box, settings } = options;
  const n = x.length;
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const milestones = DECAY_AT.map((f) => Math.floor(f * settings.iterations));
  const bestX = x.slice();
  let bestLoss = Infinity;
  let bestIteration = 0;
  let startLoss = NaN;
  const curve: number[] = [];
  let lastYield = Date.now();
  let step = 0;
  let stoppedBy: InversionResult['stoppedBy'] = 'iterations';
  for (;;) {
    options.signal?.throwIfAborted();
    const { loss, gradient } = await evaluator.evaluate(x);
    if (step === 0) startLoss = loss;
    if (Number.isFinite(loss) && loss < bestLoss) {
      bestLoss = loss;
      bestIteration = step;
      bestX.set(x);
    }
    if (step % curveStride === 0) curve.push(loss);
    options.onStep?.({ run, iteration: step, loss, x });
    if (step >= settings.iterations) break;
    if (pastDeadline(options.deadline)) {
      stoppedBy = 'time';
      break;
    }
    const decays = milestones.filter((at) => step >= at).length;
    const lr = settings.learningRate * 0.1 ** decays;
    step++;
    const stepSize = lr / (1 - BETA1 ** step);
    const correction2 = Math.sqrt(1 - BETA2 ** step);
    for (let k = 0; k < n; k++) {
      // Signed gradients: every entry moves at the same pace whatever the scale of its gradient.
      const g = Math.sign(gradient[k]);
      m[k] = BETA1 * m[k] + (1 - BETA1) * g;
      v[k] = BETA2 * v[k] + (1 - BETA2) * g * g;
      const next = x[k] - (stepSize * m[k]) / (Math.sqrt(v[k]) / correction2 + EPSILON);
      x[k] = Math.min(box.upper[k], Math.max(box.lower[k], next));
    }
    if (Date.now() - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
  }
  return { x: bestX, loss: bestLoss, iteration: bestIteration, startLoss, iterations: step, stoppedBy, curve };
}

/** Gaussian noise N(0, 1) in the model's input space, clamped to the box, seeded. */
export function startingNoise(box: InputBox, seed: number): Float32Array {
  const rng = createRng(seed);
  const x = new Float32Array(box.lower.length);
  for (let k = 0; k < x.length; k++) x[k] = Math.min(box.upper[k], Math.max(box.lower[k], rng.normal()));
  return x;
}

function clampToBox(x: ArrayLike<number>, box: InputBox): Float32Array {
  return Float32Array.from(x, (v, k) => Math.min(box.upper[k], Math.max(box.lower[k], v)));
}

/**
 * The box of valid model inputs: images in [0, 1], normalised as (x − mean_c)/std_c, as [C, H, W]; one mean or std
 * value applies to every channel.
 */
export function inputBox(shape: readonly [number, number, number], normalization: { mean: number[]; std: number[] }): InputBox {
  const [c, h, w] = shape;
  const plane = h * w;
  const lower = new Float32Array(c * plane);
  const upper = new Float32Array(c * plane);
  const of = (values: number[], ch: number) => (values.length === 1 ? values[0] : values[ch]);
  for (let ch = 0; ch < c; ch++) {
    const mean = of(normalization.mean, ch);
    const std = of(normalization.std, ch);
    if (!(std > 0) || !Number.isFinite(mean)) throw new RangeError(`input normalisation of channel ${ch}: mean ${mean}, std ${std}`);
    lower.fill((0 - mean) / std, ch * plane, (ch + 1) * plane);
    upper.fill((1 - mean) / std, ch * plane, (ch + 1) * plane);
  }
  return { lower, upper };
}

function pastDeadline(deadline: number | undefined): boolean {
  return deadline !== undefined && Date.now() >= deadline;
}
