// The proof that a model leaks: simulate one federated training step per sample image (or take the gradients a
// client really shared), rebuild the image from those gradients layer by layer, and measure how close it is.
import type { FileAccess } from '../files/fileAccess';
import type { LayerGraph } from '../ir';
import { readSafetensors } from '../readers/safetensors';
import { loadSampleImages, loadImageFiles, modelInputToImage, type SampleImage } from '../images/modelInput';
import { imageQuality } from '../images/quality';
import { sideBySide } from '../images/composite';
import { encodePng, floatImageToRgba } from '../images/codec';
import { attackJson } from '../reports/attack';
import type { ProgressListener } from '../jobs/types';
import { centerCropResize } from '../images/resize';
import type { FloatImage } from '../images/codec';
import type { NamedTensor } from '../readers/safetensors';
import { attackEvidence } from '../verdict/decide';
import { evidenceSentence } from '../verdict/phrases';
import { AttackNetwork } from './network/attackNetwork';
import { relativeError } from './reconstruct';
import { INVERTING_GRADIENTS_DEFAULTS, type GradientRuntime, type InvertingGradientsSettings } from './invertingGradients';
import { GradientMatchingUnavailableError, reconstructImage, type MethodOptions } from './methods';
import type { AttackImageResult, AttackMethod, AttackReport, ForwardTrace, InputNormalization, MatchingProgress, SharedGradients } from './types';

export interface AttackJobOptions {
  /** A folder of .png/.jpg images (the adapters default it to the bundled CC0 samples). */
  imageFolder?: string;
  /** Explicit image files (take precedence over the folder); with `gradientsFile`, the one true image. */
  imageFiles?: string[];
  maxImages?: number;
  /** Label of the simulated training step (default: image index modulo the number of classes). */
  label?: number;
  /** How the images are rebuilt (default auto: docs/gradient-graph.md). */
  method?: AttackMethod;
  /** Gradient matching: Adam steps per run, runs from noise, total-variation weight (defaults: the paper's). */
  iterations?: number;
  restarts?: number;
  tvWeight?: number;
  /** Wall-clock budget of the whole attack (ms): gradient matching stops in time and keeps its best iterate. */
  timeBudgetMs?: number;
  /** Progress of gradient matching carries a small PNG of the current iterate (the webview's live image). */
  previews?: boolean;
  refine?: boolean;
  refineBudgetMs?: number;
  /** Gradients a real client shared (.safetensors, one tensor per parameter); no simulation then. */
  gradientsFile?: string;
  /** How an image in [0,1] becomes the model input (default mean 0, std 1 per channel). */
  normalization?: InputNormalization;
}

/** A file the attack produced (a PNG, an image's JSON), named relative to the folder its caller writes it to. */
export interface OutputFile {
  path: string;
  bytes: Uint8Array;
}

/** The attack's report, and the files it produced: writing them is the caller's job. */
export interface AttackOutputs {
  report: AttackReport;
  files: OutputFile[];
}

export type ForwardCheck = (input: Float32Array, shape: number[]) => Promise<Map<string, { dims: number[]; data: Float32Array }>>;

export interface AttackRunOptions extends AttackJobOptions {
  /** Reads the images and the shared-gradients file. */
  files: FileAccess;
  signal?: AbortSignal;
  /** Images done, and while gradient matching runs, where it is (loss, current image). */
  onProgress?: ProgressListener;
  /** onnxruntime-node forward pass of the same model, to cross-check the engine's float64 forward. */
  forwardCheck?: ForwardCheck;
  /** Runs gradient graphs on the native runtime (the worker's onnxruntime-node); absent: no gradient matching. */
  gradientRuntime?: GradientRuntime;
  /** Why `gradientRuntime` is absent, for the report (default: no native runtime in this process). */
  gradientRuntimeUnavailable?: string;
}

/** The share of the time budget gradient matching may use; the rest is for the closed form and the outputs. */
const MATCHING_SHARE_OF_BUDGET = 0.85;
/** Live progress of gradient matching at most this often. */
const PROGRESS_EVERY_MS = 200;
/** The live image is at most this many pixels on its longer side. */
const PREVIEW_SIZE = 64;

export async function runAttack(graph: LayerGraph, options: AttackRunOptions): Promise<AttackOutputs> {
  const started = Date.now();
  const net = AttackNetwork.fromGraph(graph);
  const [C, H, W] = net.inputShape;
  const shape: [number, number, number] = [C, H, W];
  const normalization = completeNormalization(options.normalization, C);
  const method = options.method ?? 'auto';
  const settings = matchingSettings(options);
  const usesMatching = method !== 'closed-form';
  const unavailable = usesMatching && !options.gradientRuntime ? (options.gradientRuntimeUnavailable ?? NO_RUNTIME) : undefined;
  if (method === 'gradient-matching' && unavailable) throw new GradientMatchingUnavailableError(unavailable);
  const warnings: string[] = [];
  if (unavailable) warnings.push(unavailable);
  const report: AttackReport = {
    file: graph.file,
    inputShape: [C, H, W],
    normalization,
    gradientsFrom: options.gradientsFile ? 'safetensors' : 'simulated',
    method,
    refine: !!options.refine,
    ...(usesMatching
      ? {
          gradientMatching: {
            iterations: settings.iterations,
            restarts: settings.restarts,
            tvWeight: settings.tvWeight,
            learningRate: settings.learningRate,
            ...(unavailable ? { unavailable } : {}),
          },
        }
      : {}),
    images: [],
    verdict: '',
    warnings,
  };
  const outputs: OutputFile[] = [];
  const budgetEnd = options.timeBudgetMs !== undefined ? started + options.timeBudgetMs * MATCHING_SHARE_OF_BUDGET : undefined;
  const methodOptions = (name: string, remaining: number, truth: ForwardTrace | undefined): MethodOptions => ({
    method,
    settings,
    runtime: options.gradientRuntime,
    unavailable: unavailable ?? NO_RUNTIME,
    normalization,
    refine: options.refine,
    refineBudgetMs: options.refineBudgetMs,
    truth,
    // A fair share of what is left of the budget for each image still to attack.
    deadline: budgetEnd !== undefined ? Date.now() + Math.max(0, budgetEnd - Date.now()) / remaining : undefined,
    signal: options.signal,
    onStep: matchingProgress(name, shape, normalization, settings.iterations, options),
  });

  if (options.gradientsFile) {
    const named = await readSafetensors(options.files, options.gradientsFile);
    const shared = net.sharedGradientsFromNamed(named);
    // The true image, when known: an --image the caller gives, else an `__input__` tensor in the file (a harness).
    const truth = await capturedTruth(options, named, shape, normalization);
    const name = truth?.name ?? 'shared-gradients';
    options.onProgress?.(0, 1, `attacking ${name}`);
    const one = await attackOne(net, shared, parameterGradients(named), name, truth?.input, methodOptions(name, 1, undefined), undefined, warnings);
    one.result.loss = NaN;
    if (truth && one.reconstructed) one.result.quality = imageQuality(truth.image, modelInputToImage(one.reconstructed, shape, normalization));
    report.images.push(one.result);
    outputs.push(...imageOutputs(one.result, truth?.input, one.reconstructed, shape, normalization));
    options.onProgress?.(1, 1, 'attack finished');
  } else {
    if (!options.imageFiles?.length && !options.imageFolder) throw new Error('the attack needs sample images: pass an image folder or image files');
    const samples: SampleImage[] = options.imageFiles?.length
      ? await loadImageFiles(options.files, options.imageFiles, shape, normalization)
      : await loadSampleImages(options.files, options.imageFolder!, shape, normalization, { limit: options.maxImages });
    for (const [index, sample] of samples.entries()) {
      options.signal?.throwIfAborted();
      options.onProgress?.(index, samples.length, `attacking ${sample.name}`);
      const label = options.label ?? index % net.classes;
      if (label < 0 || label >= net.classes || !Number.isInteger(label))
        throw new RangeError(`label ${label} is not a class of this model (0…${net.classes - 1})`);
      const t0 = performance.now();
      const trace = net.forward(sample.input);
      const t1 = performance.now();
      const { step } = net.backward(trace, label);
      const t2 = performance.now();
      if (index === 0 && options.forwardCheck) report.runtimeCheck = await compareWithRuntime(net, trace, options.forwardCheck, warnings);
      const named = net.namedGradients(step, trace);
      const one = await attackOne(
        net,
        step.gradients,
        named,
        sample.name,
        sample.input,
        methodOptions(sample.name, samples.length - index, trace),
        label,
        warnings,
      );
      one.result.loss = step.loss;
      one.result.seconds.forward = (t1 - t0) / 1000;
      one.result.seconds.gradients = (t2 - t1) / 1000;
      one.result.seconds.total += (t2 - t0) / 1000;
      if (one.reconstructed) one.result.quality = imageQuality(sample.image, modelInputToImage(one.reconstructed, shape, normalization));
      outputs.push(...imageOutputs(one.result, sample.input, one.reconstructed, shape, normalization));
      report.images.push(one.result);
    }
    options.onProgress?.(samples.length, samples.length, 'attack finished');
  }
  report.verdict = evidenceSentence(attackEvidence(report));
  return { report, files: outputs };
}

const NO_RUNTIME = 'gradient matching did not run: it needs the native runtime (onnxruntime-node), which this process does not provide';

function matchingSettings(options: AttackJobOptions): InvertingGradientsSettings {
  const settings = {
    ...INVERTING_GRADIENTS_DEFAULTS,
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
    ...(options.restarts !== undefined ? { restarts: options.restarts } : {}),
    ...(options.tvWeight !== undefined ? { tvWeight: options.tvWeight } : {}),
  };
  if (!(Number.isInteger(settings.iterations) && settings.iterations >= 1))
    throw new RangeError(`iterations must be a positive integer, got ${settings.iterations}`);
  if (!(Number.isInteger(settings.restarts) && settings.restarts >= 1)) throw new RangeError(`restarts must be a positive integer, got ${settings.restarts}`);
  if (!(settings.tvWeight >= 0 && Number.isFinite(settings.tvWeight))) throw new RangeError(`the TV weight must be a number ≥ 0, got ${settings.tvWeight}`);
  return settings;
}

/** The gradients by parameter name the gradient graph compares with: those of the network's parameters only. */
function parameterGradients(named: Map<string, NamedTensor>): Map<string, NamedTensor> {
  return new Map([...named].filter(([name]) => name !== TRUE_INPUT_TENSOR));
}

/** The tensor a test harness may add to a shared-gradients file: the true model input, to measure against. */
const TRUE_INPUT_TENSOR = '__input__';

async function capturedTruth(
  options: AttackRunOptions,
  named: Map<string, NamedTensor>,
  shape: [number, number, number],
  normalization: InputNormalization,
): Promise<{ name: string; image: FloatImage; input: Float64Array } | undefined> {
  if (options.imageFiles?.length) {
    if (options.imageFiles.length > 1) throw new RangeError('shared gradients are one training step: give one --image to measure against');
    const [sample] = await loadImageFiles(options.files, options.imageFiles, shape, normalization);
    return { name: sample.name, image: sample.image, input: sample.input };
  }
  const input = named.get(TRUE_INPUT_TENSOR)?.values;
  if (!input) return undefined;
  if (input.length !== shape[0] * shape[1] * shape[2])
    throw new RangeError(`${TRUE_INPUT_TENSOR} has ${input.length} values, the model input ${shape.join('×')}`);
  return { name: 'shared-gradients', image: modelInputToImage(input, shape, normalization), input };
}

/** Throttled live progress of gradient matching: loss, iteration, and (when asked) the current iterate as a PNG. */
function matchingProgress(
  image: string,
  shape: [number, number, number],
  normalization: InputNormalization,
  iterations: number,
  options: AttackRunOptions,
): MethodOptions['onStep'] {
  const listener = options.onProgress;
  if (!listener) return undefined;
  let last = 0;
  return (step) => {
    const now = Date.now();
    if (now - last < PROGRESS_EVERY_MS && step.iteration !== iterations) return;
    last = now;
    const detail: MatchingProgress = {
      image,
      run: step.run,
      runs: step.runs,
      start: step.start,
      iteration: step.iteration,
      iterations,
      loss: step.loss,
      ...(options.previews ? { preview: previewOf(step.x, shape, normalization) } : {}),
    };
    const label = `gradient matching on ${image}: run ${step.run + 1}/${step.runs}, step ${step.iteration}/${iterations}, loss ${step.loss.toExponential(2)}`;
    listener(step.iteration, iterations, label, detail);
  };
}

function previewOf(x: Float32Array, shape: [number, number, number], normalization: InputNormalization): MatchingProgress['preview'] {
  let image = modelInputToImage(x, shape, normalization);
  const scale = Math.min(1, PREVIEW_SIZE / Math.max(image.width, image.height));
  if (scale < 1) image = centerCropResize(image, Math.max(1, Math.round(image.width * scale)), Math.max(1, Math.round(image.height * scale)));
  return { width: image.width, height: image.height, png: encodePng(floatImageToRgba(image)) };
}

async function attackOne(
  net: AttackNetwork,
  shared: SharedGradients,
  named: Map<string, NamedTensor>,
  name: string,
  truthInput: Float64Array | undefined,
  options: MethodOptions,
  label: number | undefined,
  warnings: string[],
): Promise<{ result: AttackImageResult; reconstructed?: Float64Array }> {
  const t0 = performance.now();
  const rec = await reconstructImage(net, shared, named, options);
  if (rec.matchingNotRun && !warnings.includes(rec.matchingNotRun)) warnings.push(rec.matchingNotRun);
  const total = (performance.now() - t0) / 1000;
  const result: AttackImageResult = {
    image: name,
    label: label ?? rec.recovered.label,
    recoveredLabel: rec.recovered.label,
    labelRule: rec.recovered.rule,
    labelRecovered: label === undefined ? true : rec.recovered.label === label,
    loss: NaN,
    layers: rec.layers,
    reachedInput: rec.input !== undefined,
    ...(rec.method ? { method: rec.method } : {}),
    stoppedAt: rec.stoppedAt,
    ...(rec.matching ? { gradientMatching: rec.matching } : {}),
    relativeError: rec.input && truthInput ? relativeError(rec.input, truthInput) : undefined,
    seconds: { forward: 0, gradients: 0, ...rec.seconds, total },
  };
  return { result, reconstructed: rec.input };
}

/**
 * An image's PNGs (original, reconstruction, side by side) and its JSON, named after the image; `result.files` gets
 * their names.
 */
function imageOutputs(
  result: AttackImageResult,
  originalInput: Float64Array | undefined,
  reconstructed: Float64Array | undefined,
  shape: [number, number, number],
  normalization: InputNormalization,
): OutputFile[] {
  const stem = fileStem(result.image);
  const outputs: OutputFile[] = [];
  if (reconstructed) {
    const rec = modelInputToImage(reconstructed, shape, normalization);
    const files = { original: '', reconstructed: `${stem}-reconstructed.png`, sideBySide: '' };
    outputs.push({ path: files.reconstructed, bytes: encodePng(floatImageToRgba(rec)) });
    if (originalInput) {
      const orig = modelInputToImage(originalInput, shape, normalization);
      files.original = `${stem}-original.png`;
      files.sideBySide = `${stem}-side-by-side.png`;
      outputs.push({ path: files.original, bytes: encodePng(floatImageToRgba(orig)) });
      outputs.push({ path: files.sideBySide, bytes: encodePng(sideBySide(orig, rec, {})) });
    }
    result.files = files;
  }
  outputs.push({ path: `${stem}.json`, bytes: new TextEncoder().encode(attackJson(result)) });
  return outputs;
}

async function compareWithRuntime(net: AttackNetwork, trace: ForwardTrace, check: ForwardCheck, warnings: string[]): Promise<AttackReport['runtimeCheck']> {
  try {
    const [C, H, W] = net.inputShape;
    const tensors = await check(Float32Array.from(trace.input), [1, C, H, W]);
    let maxAbs = 0;
    let compared = 0;
    const compare = (engine: Float64Array | undefined, runtime: { data: Float32Array } | undefined) => {
      if (!engine || !runtime || runtime.data.length !== engine.length) return;
      for (let i = 0; i < engine.length; i++) maxAbs = Math.max(maxAbs, Math.abs(engine[i] - runtime.data[i]));
      compared++;
    };
    // A unit's output is the output of the last IR node folded into it (batch norm, activation, flatten, ...).
    for (const unit of net.order) {
      const lastNodeId = unit.folded.length ? unit.folded[unit.folded.length - 1] : unit.id;
      const node = net.graph.nodes.find((n) => n.id === lastNodeId);
      if (node) compare(trace.output.get(unit.id), tensors.get(node.outputs[0]));
    }
    for (const o of net.graph.outputs) compare(trace.logits, tensors.get(o.name));
    return { runtime: 'onnxruntime-node', maxAbsDifference: maxAbs, tensorsCompared: compared };
  } catch (e) {
    warnings.push(`onnxruntime-node cross-check failed: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

function completeNormalization(n: InputNormalization | undefined, channels: number): InputNormalization {
  const spread = (v: number[] | undefined, dflt: number) => {
    if (!v || v.length === 0) return new Array<number>(channels).fill(dflt);
    if (v.length === 1) return new Array<number>(channels).fill(v[0]);
    if (v.length !== channels) throw new RangeError(`normalisation has ${v.length} values for a ${channels}-channel input`);
    return v;
  };
  const std = spread(n?.std, 1);
  if (std.some((s) => !(s > 0))) throw new RangeError('normalisation std must be positive');
  return { mean: spread(n?.mean, 0), std };
}

/** "chelsea.png" → "chelsea": the name the image's output files start with. */
function fileStem(imageName: string): string {
  return imageName.replace(/\.(png|jpe?g)$/i, '').replace(/[^A-Za-z0-9_.-]/g, '_');
}
