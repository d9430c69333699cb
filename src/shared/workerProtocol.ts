// The contract between a caller (the CLI or the extension host, through src/runtime/runtimeClient) and the
// background worker (src/worker), a forked child process: one typed constant per job, naming its parameters and its
// result. Messages cross by structured clone, so Float32Array, Map and Infinity arrive unchanged. A model that cannot
// be read is part of a job's result (a typed ModelFailure); 'error' messages are for cancelled jobs, onnxruntime
// failures and bugs.
import type {
  AttackJobOptions,
  AttackOutcome,
  AuditOutcome,
  Discovery,
  IdentifiabilityJobOptions,
  IdentifiabilityOutcome,
  LayersOutcome,
  LeakLintConfig,
  ProgressDetail,
} from '../engine';

/** A job the worker runs. `P` and `R` only type the calls; `cooperative` jobs see a 'cancel' message while they run. */
export interface JobType<P, R> {
  readonly name: string;
  readonly cooperative: boolean;
  /** Never set: carries the parameter and result types. */
  readonly types?: { params: P; result: R };
}

function jobType<P, R>(name: string, cooperative = false): JobType<P, R> {
  return { name, cooperative };
}

/** Every job names the file it works on, for progress and error messages. */
interface FileJob {
  file: string;
  /**
   * False in an untrusted workspace: the job stays pure JavaScript (no onnxruntime-node) and opens no ONNX external
   * data.
   */
  trusted: boolean;
}

/** Reads and analyses one model (engine auditFile). */
export const auditJob = jobType<FileJob & { config: LeakLintConfig }, AuditOutcome>('audit');

/**
 * A file a job read, as it was when read: size, modification time (whole milliseconds, as VS Code's FileStat gives
 * it: Date#getTime of Node's stat) and the SHA-256 of its bytes; or missing (a shard the model names that is not there).
 */
export type FileFingerprint = { file: string; size: number; mtime: number; sha256: string } | { file: string; missing: true };

/**
 * The audit, plus a fingerprint of every file it read (the model, its TF.js shards, its ONNX external data): the
 * extension caches the outcome under these. `inputs` is empty when a file changed while it was read (not cacheable).
 */
export const fingerprintedAuditJob = jobType<FileJob & { config: LeakLintConfig }, { outcome: AuditOutcome; inputs: FileFingerprint[] }>('fingerprinted-audit');

/** Fingerprints of files (the cached inputs of an audit whose modification times changed: same bytes or not?). */
export const fingerprintJob = jobType<{ files: string[] }, FileFingerprint[]>('fingerprint');

/** The layer listing of one model (engine layersOfFile). */
export const layersJob = jobType<FileJob & { config: Pick<LeakLintConfig, 'inputShape'> }, LayersOutcome>('layers');

/** The reconstruction attack (engine attackFile); its PNG and JSON files come back in the result. */
export const attackJob = jobType<FileJob & { config: Pick<LeakLintConfig, 'inputShape'>; options: AttackJobOptions }, AttackOutcome>('attack', true);

/**
 * Gradient-matching identifiability (engine identifiabilityOfFile): the rank of the gradient map's Jacobian, its Jᵀu
 * graphs run on onnxruntime-node. Trusted workspaces only (callers do not send it otherwise).
 */
export const identifiabilityJob = jobType<FileJob & { config: Pick<LeakLintConfig, 'inputShape'>; options: IdentifiabilityJobOptions }, IdentifiabilityOutcome>(
  'identifiability',
  true,
);

export interface Tensor {
  dims: number[];
  data: Float32Array;
}

/** Tensor name → value, in the order the graph computes them. */
export type TensorMap = Map<string, Tensor>;

/** Model files under some folders (engine discoverModelFiles), skipping the config's ignore globs. */
export const discoverJob = jobType<{ roots: string[]; ignore: string[]; baseDir: string }, Discovery>('discover');

/** One onnxruntime-node forward pass of an ONNX model with every intermediate float tensor exposed. */
export const forwardJob = jobType<{ file: string; input: Float32Array | number[]; shape: number[] }, TensorMap>('forward');

export type JobParams<J> = J extends JobType<infer P, unknown> ? P : never;
export type JobResult<J> = J extends JobType<unknown, infer R> ? R : never;

/**
 * Why a job failed without a result: 'cancelled' on request, 'runtime' when onnxruntime-node failed, 'unreadable'
 * when a job without a failure outcome (the forward pass) met a model it cannot read, else 'internal'.
 */
export type JobErrorCode = 'cancelled' | 'runtime' | 'unreadable' | 'internal';

export type WorkerRequest = { id: number; type: 'job'; job: string; params: unknown } | { id: number; type: 'cancel' };

export type WorkerMessage =
  /** `detail`: what a step carries besides its count (the attack's gradient matching: loss, a small PNG of the image). */
  | { id: number; type: 'progress'; done: number; total: number; label: string; detail?: ProgressDetail }
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; code: JobErrorCode; message: string };
