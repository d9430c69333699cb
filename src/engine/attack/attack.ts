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
import { AttackNetwork } from './network/attackNetwork';
import { reconstruct, relativeError } from './reconstruct';
import type { AttackImageResult, AttackReport, ForwardTrace, InputNormalization, SharedGradients } from './types';

export interface AttackJobOptions {
  /** A folder of .png/.jpg images (the adapters default it to the bundled CC0 samples). */
  imageFolder?: string;
  /** Explicit image files (take precedence over the folder). */
  imageFiles?: string[];
  maxImages?: number;
  /** Label of the simulated training step (default: image index modulo the number of classes). */
  label?: number;
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
  onProgress?: (done: number, total: number, label: string) => void;
  /** onnxruntime-node forward pass of the same model, to cross-check the engine's float64 forward. */
  forwardCheck?: ForwardCheck;
}

export async function runAttack(graph: LayerGraph, options: AttackRunOptions): Promise<AttackOutputs> {
  const net = AttackNetwork.fromGraph(graph);
  const [C, H, W] = net.inputShape;
  const normalization = completeNormalization(options.normalization, C);
  const warnings: string[] = [];
  const report: AttackReport = {
    file: graph.file,
    inputShape: [C, H, W],
    normalization,
    gradientsFrom: options.gradientsFile ? 'safetensors' : 'simulated',
    refine: !!options.refine,
    images: [],
    verdict: '',
    warnings,
  };
  const outputs: OutputFile[] = [];

  if (options.gradientsFile) {
    const named = await readSafetensors(options.files, options.gradientsFile);
    const shared = net.sharedGradientsFromNamed(named);
    const truthInput = named.get('__input__')?.values;
    const result = attackOne(net, shared, 'shared-gradients', undefined, truthInput, options, undefined);
    // A client's file may carry the true input (`__input__`, e.g. a test harness): then the quality is measurable.
    if (truthInput && result.reconstructed && truthInput.length === result.reconstructed.length) {
      result.result.quality = imageQuality(
        modelInputToImage(truthInput, [C, H, W], normalization),
        modelInputToImage(result.reconstructed, [C, H, W], normalization),
      );
    }
    report.images.push(result.result);
    outputs.push(...imageOutputs(result.result, truthInput, result.reconstructed, [C, H, W], normalization));
  } else {
    if (!options.imageFiles?.length && !options.imageFolder) throw new Error('the attack needs sample images: pass an image folder or image files');
    const samples: SampleImage[] = options.imageFiles?.length
      ? await loadImageFiles(options.files, options.imageFiles, [C, H, W], normalization)
      : await loadSampleImages(options.files, options.imageFolder!, [C, H, W], normalization, { limit: options.maxImages });
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
      const one = attackOne(net, step.gradients, sample.name, trace, sample.input, options, label);
      one.result.loss = step.loss;
      one.result.seconds.forward = (t1 - t0) / 1000;
      one.result.seconds.gradients = (t2 - t1) / 1000;
      one.result.seconds.total += (t2 - t0) / 1000;
      if (one.reconstructed) one.result.quality = imageQuality(sample.image, modelInputToImage(one.reconstructed, [C, H, W], normalization));
      outputs.push(...imageOutputs(one.result, sample.input, one.reconstructed, [C, H, W], normalization));
      report.images.push(one.result);
    }
    options.onProgress?.(samples.length, samples.length, 'attack finished');
  }
  report.verdict = verdictOf(report);
  return { report, files: outputs };
}

function attackOne(
  net: AttackNetwork,
  shared: SharedGradients,
  name: string,
  truth: ForwardTrace | undefined,
  truthInput: Float64Array | undefined,
  options: AttackRunOptions,
  label: number | undefined,
): { result: AttackImageResult; reconstructed?: Float64Array } {
  const t0 = performance.now();
  const rec = reconstruct(net, shared, {
    refine: options.refine,
    refineBudgetMs: options.refineBudgetMs,
    truth,
    signal: options.signal,
  });
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
    stoppedAt: rec.stoppedAt,
    relativeError: rec.input && truthInput ? relativeError(rec.input, truthInput) : undefined,
    seconds: { forward: 0, gradients: 0, labels: rec.seconds.labels, solve: rec.seconds.solve, refine: rec.seconds.refine, total },
  };
  return { result, reconstructed: rec.input };
}

/**
 * An image's PNGs (original, reconstruction, side by side) and its JSON, named after the image; `result.files` gets
 * their names. JSON has no Infinity: an exact reconstruction's PSNR is written as "Infinity".
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

function verdictOf(report: AttackReport): string {
  const images = report.images;
  if (!images.length) return 'No image was attacked.';
  const reached = images.filter((i) => i.reachedInput);
  if (!reached.length) {
    const stop = images[0].stoppedAt;
    return `The closed-form attack could not reach the input${stop ? `: ${stop.reason}` : ''}. This does not prove the model safe: optimisation attacks may still work.`;
  }
  const psnrs = reached.map((i) => i.quality?.clipped.psnr).filter((v): v is number => v !== undefined);
  if (!psnrs.length) return `The attack rebuilt ${reached.length} input(s) from the shared gradients.`;
  const mean = psnrs.reduce((s, v) => s + Math.min(v, 200), 0) / psnrs.length;
  const meanText = mean >= 200 ? 'exact to float64 precision' : `mean PSNR ${mean.toFixed(1)} dB`;
  if (mean >= 30)
    return `The attack rebuilt ${reached.length} of ${images.length} images from their gradients (${meanText}): this model leaks its training images.`;
  if (mean >= 15) return `The attack rebuilt ${reached.length} of ${images.length} images only partly (${meanText}): recognisable content leaks.`;
  return `The closed-form attack failed to rebuild the images (${meanText}): the layer systems are under-determined.`;
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
