// The reconstruction attack on one model file: read it, simulate (or take) one training step's gradients per image,
// rebuild the images, and give back the report and the files it produced (PNGs, JSON) for the caller to write.
import * as path from 'path';
import { runAttack, type AttackJobOptions, type ForwardCheck, type OutputFile } from '../attack/attack';
import type { GradientRuntime } from '../attack/invertingGradients';
import type { AttackReport } from '../attack/types';
import { ATTACK_DEFAULTS, type AttackSettings, type LeakLintConfig } from '../config';
import { isModelReadError } from '../errors';
import { readJobModel, type Trust } from './audit';
import type { Failed, JobContext } from './types';

export type AttackOutcome =
  | { kind: 'attack'; report: AttackReport; files: OutputFile[] }
  /** The model was read, but the attack cannot run on it (no dense classifier, an unsupported layer, no image...). */
  | { kind: 'not-run'; file: string; reason: string }
  | Failed;

export interface AttackContext extends JobContext, Trust {
  /** onnxruntime-node's forward pass of the same model (trusted runs in the worker), to cross-check the engine's. */
  forwardCheck?: ForwardCheck;
  /** Runs gradient graphs on onnxruntime-node (trusted runs in the worker): gradient matching needs it. */
  gradientRuntime?: GradientRuntime;
}

/** Why gradient matching cannot run without the native runtime, in the report's words. */
function unavailableReason(trusted: boolean | undefined): string {
  return trusted === false
    ? 'gradient matching did not run: it needs the native runtime (onnxruntime-node), which LeakLint does not load in an untrusted workspace'
    : 'gradient matching did not run: it needs the native runtime (onnxruntime-node), which this process does not provide';
}

/**
 * The attack options a config gives, with a run's own choices on top (CLI flags, a command's arguments).
 * `bundledSamples` is the folder of the sample images that ship with LeakLint: the adapters know where it is.
 */
export function attackOptionsOf(
  config: Pick<LeakLintConfig, 'attack' | 'baseDir'>,
  bundledSamples: string,
  overrides: Partial<AttackJobOptions> = {},
): AttackJobOptions {
  const settings: AttackSettings = config.attack ?? {};
  const refine = overrides.refine ?? settings.refine ?? ATTACK_DEFAULTS.refine;
  return {
    imageFolder: settings.sampleImages ? path.resolve(config.baseDir, settings.sampleImages) : bundledSamples,
    maxImages: settings.maxImages ?? ATTACK_DEFAULTS.maxImages,
    normalization: { mean: settings.inputMean ?? [...ATTACK_DEFAULTS.inputMean], std: settings.inputStd ?? [...ATTACK_DEFAULTS.inputStd] },
    method: settings.method ?? ATTACK_DEFAULTS.method,
    iterations: settings.iterations ?? ATTACK_DEFAULTS.iterations,
    restarts: settings.restarts ?? ATTACK_DEFAULTS.restarts,
    tvWeight: settings.tvWeight ?? ATTACK_DEFAULTS.tvWeight,
    timeBudgetMs: (settings.timeBudgetSeconds ?? ATTACK_DEFAULTS.timeBudgetSeconds) * 1000,
    ...(settings.label !== undefined ? { label: settings.label } : {}),
    ...(refine ? { refineBudgetMs: (settings.refineBudgetSeconds ?? ATTACK_DEFAULTS.refineBudgetSeconds) * 1000 } : {}),
    ...overrides,
    refine,
  };
}

export async function attackFile(
  file: string,
  config: Pick<LeakLintConfig, 'inputShape'>,
  options: AttackJobOptions,
  context: AttackContext,
): Promise<AttackOutcome> {
  const read = await readJobModel(file, config, context);
  if ('failure' in read) return { kind: 'failure', failure: read.failure };
  const { graph } = read;
  try {
    const { report, files } = await runAttack(graph, {
      ...options,
      files: context.files,
      signal: context.signal,
      onProgress: context.onProgress,
      forwardCheck: context.forwardCheck,
      gradientRuntime: context.gradientRuntime,
      gradientRuntimeUnavailable: unavailableReason(context.trusted),
    });
    return { kind: 'attack', report, files };
  } catch (e) {
    if (context.signal?.aborted) throw e;
    // A read error about the model itself is said without its path: the caller names the model once.
    const reason = isModelReadError(e) && e.file === graph.file ? `${e.where ? `${e.where}: ` : ''}${e.reason}` : e instanceof Error ? e.message : String(e);
    return { kind: 'not-run', file: graph.file, reason };
  }
}
