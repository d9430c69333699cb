// Runs jobs in the background worker (dist/worker.js), a forked child process, for both the extension host and the
// CLI (no vscode import here). A hostile model or a native crash in onnxruntime-node takes down only the child: its
// job fails with an error that names the job and how the process ended, and the next job starts a fresh child.
// The child works on one job at a time (the others wait here), under a memory cap and a per-job time budget.
import { fork, type ChildProcess } from 'child_process';
import type { Socket } from 'net';
import {
  attackJob,
  auditJob,
  discoverJob,
  fingerprintedAuditJob,
  fingerprintJob,
  forwardJob,
  layersJob,
  type JobErrorCode,
  type JobParams,
  type JobResult,
  type JobType,
  type WorkerMessage,
  type WorkerRequest,
} from '../shared/workerProtocol';
import type { ProgressDetail } from '../engine';

/** Why the runtime stopped a job itself (the worker did not answer with an error). */
export type StopReason = 'cancelled' | 'time-budget' | 'worker-exit' | 'disposed';

/**
 * A job that ended without a result (a model that cannot be read is a result, not this). `code` is the worker's:
 * 'runtime' when onnxruntime-node failed, 'cancelled', else 'internal' (also the code of every job the runtime
 * stopped itself; see `stopped`).
 */
export class RuntimeError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly jobId?: number,
    readonly stopped?: StopReason,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** What VS Code's CancellationToken offers (structurally), so that this file needs no vscode import. */
export interface CancellationTokenLike {
  readonly isCancellationRequested?: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

export type ProgressListener = (done: number, total: number, label: string, detail?: ProgressDetail) => void;

export interface JobOptions {
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  cancellation?: CancellationTokenLike;
  /** Wall-clock budget from the moment the worker starts the job, in ms (default: the client's `timeBudgetMs`). */
  timeBudgetMs?: number;
}

export interface RuntimeClientOptions {
  /** Default per-job time budget in ms: a hostile model must not hold the worker for ever. Default 5 minutes. */
  timeBudgetMs?: number;
  /** V8 heap cap of the worker process (--max-old-space-size), in MB. Default 4096. */
  memoryMb?: number;
  /** How long a cancelled job that can stop on its own (the attack) gets before its process is killed, in ms. Default 2000. */
  cancelGraceMs?: number;
  /** Extra environment for the worker process. */
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_TIME_BUDGET_MS = 5 * 60_000;
const DEFAULT_MEMORY_MB = 4096;
const DEFAULT_CANCEL_GRACE_MS = 2000;
const STDERR_TAIL_CHARS = 2000;

interface Job {
  id: number;
  request: Extract<WorkerRequest, { type: 'job' }>;
  cooperative: boolean;
  /** "job 3 (audit /path/model.onnx)": how errors name it. */
  name: string;
  options: JobOptions;
  resolve: (result: unknown) => void;
  /** Settles the job once (clears its timer and listeners); later calls do nothing. */
  fail: (error: RuntimeError) => void;
  timer?: NodeJS.Timeout;
}

/** One worker process and what it is doing. */
interface WorkerProcess {
  process: ChildProcess;
  job?: Job;
  /** A cancelled cooperative job the process is still winding down; it gets new work once that ends. */
  draining?: { id: number; timer: NodeJS.Timeout };
  /** Set when the client kills the process, to say why in the error of the job it was running. */
  stopReason?: string;
  stderrTail: string;
}

export class RuntimeClient {
  private worker: WorkerProcess | undefined;
  private readonly queue: Job[] = [];
  private nextId = 1;
  private disposed = false;
  private readonly timeBudgetMs: number;
  private readonly memoryMb: number;
  private readonly cancelGraceMs: number;

  constructor(
    private readonly workerPath: string,
    private readonly options: RuntimeClientOptions = {},
  ) {
    this.timeBudgetMs = options.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS;
    this.memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB;
    this.cancelGraceMs = options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
  }

  /** Reads and analyses one model (pure JavaScript): its report, or a typed failure. */
  audit(params: JobParams<typeof auditJob>, options?: JobOptions): Promise<JobResult<typeof auditJob>> {
    return this.run(auditJob, params, options);
  }

  /** The audit plus fingerprints of the files it read (the extension's cache key). */
  fingerprintedAudit(params: JobParams<typeof fingerprintedAuditJob>, options?: JobOptions): Promise<JobResult<typeof fingerprintedAuditJob>> {
    return this.run(fingerprintedAuditJob, params, options);
  }

  /** Size, modification time and SHA-256 of files. */
  fingerprint(params: JobParams<typeof fingerprintJob>, options?: JobOptions): Promise<JobResult<typeof fingerprintJob>> {
    return this.run(fingerprintJob, params, options);
  }

  /** The layer listing of one model. */
  layers(params: JobParams<typeof layersJob>, options?: JobOptions): Promise<JobResult<typeof layersJob>> {
    return this.run(layersJob, params, options);
  }

  /** Model files under some folders, as `leaklint audit` finds them. */
  discover(params: JobParams<typeof discoverJob>, options?: JobOptions): Promise<JobResult<typeof discoverJob>> {
    return this.run(discoverJob, params, options);
  }

  /** onnxruntime-node forward pass of an ONNX model: every intermediate float tensor, by name, in graph order. */
  forward(params: JobParams<typeof forwardJob>, options?: JobOptions): Promise<JobResult<typeof forwardJob>> {
    return this.run(forwardJob, params, options);
  }

  /** The reconstruction attack; cancelling it asks the worker first and kills the process after a grace period. */
  attack(params: JobParams<typeof attackJob>, options?: JobOptions): Promise<JobResult<typeof attackJob>> {
    return this.run(attackJob, params, options);
  }

  /** Any job, by its constant; resolves with the job's result. */
  run<P, R>(type: JobType<P, R>, params: P, options: JobOptions = {}): Promise<R> {
    const id = this.nextId++;
    const file = (params as { file?: unknown }).file;
    const name = `job ${id} (${type.name}${typeof file === 'string' ? ` ${file}` : ''})`;
    return new Promise<R>((resolve, reject) => {
      if (this.disposed) return reject(new RuntimeError('internal', `${name} was not started: the LeakLint runtime was disposed`, id, 'disposed'));
      const { signal, cancellation } = options;
      const cancel = () => this.stopJob(job, new RuntimeError('internal', `${name} was cancelled`, id, 'cancelled'));
      // Assigned once, below, but read by settle() which may run first (a cancel before the listener exists).
      // eslint-disable-next-line prefer-const
      let tokenListener: { dispose(): unknown } | undefined;
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(job.timer);
        signal?.removeEventListener('abort', cancel);
        tokenListener?.dispose();
      };
      const job: Job = {
        id,
        request: { id, type: 'job', job: type.name, params },
        cooperative: type.cooperative,
        name,
        options,
        resolve: (result) => {
          if (settled) return;
          settle();
          resolve(result as R);
        },
        fail: (error) => {
          if (settled) return;
          settle();
          reject(error);
        },
      };
      if (signal?.aborted || cancellation?.isCancellationRequested) return cancel();
      signal?.addEventListener('abort', cancel, { once: true });
      tokenListener = cancellation?.onCancellationRequested(cancel);
      if (settled) return tokenListener?.dispose(); // a token that fired while its listener was added
      this.queue.push(job);
      this.pump();
    });
  }

  /** Process id of the current worker process, if one is running. */
  get pid(): number | undefined {
    return this.worker?.process.pid;
  }

  /** Kills the worker process (its job fails); queued jobs and the next ones run in a fresh process. */
  restart() {
    if (this.worker) this.kill(this.worker, 'was restarted');
  }

  /** Fails every job, kills the worker process, and refuses new jobs. */
  dispose() {
    this.disposed = true;
    for (const job of this.queue.splice(0))
      job.fail(new RuntimeError('internal', `${job.name} was not started: the LeakLint runtime was disposed`, job.id, 'disposed'));
    if (this.worker) this.kill(this.worker, 'was stopped (the LeakLint runtime was disposed)');
  }

  /** Starts the next queued job when the worker is free, forking a worker if there is none. */
  private pump() {
    if (this.disposed || this.queue.length === 0) return;
    const worker = (this.worker ??= this.startWorker());
    if (worker.job || worker.draining) return;
    const job = this.queue.shift()!;
    worker.job = job;
    const budget = job.options.timeBudgetMs ?? this.timeBudgetMs;
    job.timer = setTimeout(() => {
      const seconds = Number((budget / 1000).toPrecision(3));
      this.stopJob(job, new RuntimeError('internal', `${job.name} went over its time budget of ${seconds} s and was stopped`, job.id, 'time-budget'));
    }, budget);
    setReferenced(worker.process, true);
    worker.process.send(job.request, (error) => {
      // The channel closed under us: the process is exiting, and the 'exit' handler fails the job with the reason.
      if (error) worker.process.kill('SIGKILL');
    });
  }

  private startWorker(): WorkerProcess {
    const child = fork(this.workerPath, [], {
      env: { ...process.env, ...this.options.env, ORT_DISABLE_TELEMETRY: '1', ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [`--max-old-space-size=${this.memoryMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Structured clone: Float32Array, Map and Infinity cross unchanged (JSON would turn them into objects and null).
      serialization: 'advanced',
    });
    const worker: WorkerProcess = { process: child, stderrTail: '' };
    // Kept for the crash message ("JavaScript heap out of memory", a missing bundle...); also keeps the pipe drained.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (worker.stderrTail = (worker.stderrTail + text).slice(-STDERR_TAIL_CHARS)));
    child.on('message', (message: WorkerMessage) => this.onMessage(worker, message));
    child.on('error', (error) => {
      worker.stderrTail += `\nError: ${error.message}`;
      // Never started: no 'exit' will come. Otherwise (an IPC failure) 'exit' follows the kill.
      if (child.pid === undefined) this.onExit(worker, null, null);
      else child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => this.onExit(worker, code, signal));
    return worker;
  }

  private onMessage(worker: WorkerProcess, message: WorkerMessage) {
    const job = worker.job;
    if (job && message.id === job.id) {
      if (message.type === 'progress') return job.options.onProgress?.(message.done, message.total, message.label, message.detail);
      worker.job = undefined;
      if (message.type === 'error') job.fail(new RuntimeError(message.code, message.message, job.id));
      else job.resolve(message.result);
      return this.idle(worker);
    }
    // The cancelled job stopped in time: the process is free again.
    if (worker.draining && message.id === worker.draining.id && message.type !== 'progress') {
      clearTimeout(worker.draining.timer);
      worker.draining = undefined;
      this.idle(worker);
    }
  }

  private idle(worker: WorkerProcess) {
    if (worker !== this.worker) return;
    setReferenced(worker.process, false);
    this.pump();
  }

  private onExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null) {
    if (worker.draining) clearTimeout(worker.draining.timer);
    const job = worker.job;
    worker.job = undefined;
    if (job) {
      const how = worker.stopReason ?? describeExit(code, signal);
      const detail = crashDetail(worker.stderrTail);
      const next = this.disposed ? '' : '; the next job starts a fresh worker';
      const message = `${job.name} failed: the LeakLint worker process ${how}${detail ? ` (${detail})` : ''}${next}`;
      job.fail(new RuntimeError('internal', message, job.id, 'worker-exit'));
    }
    if (this.worker === worker) this.worker = undefined;
    this.pump();
  }

  /** Fails a job now; a running job's process is asked to stop it (cooperative jobs) or is killed. */
  private stopJob(job: Job, error: RuntimeError) {
    job.fail(error);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) return void this.queue.splice(queued, 1);
    const worker = this.worker?.job === job ? this.worker : undefined;
    if (!worker) return;
    worker.job = undefined;
    const reason = `was stopped to end ${job.name}`;
    if (!job.cooperative || !worker.process.connected) return this.kill(worker, reason);
    const timer = setTimeout(() => this.kill(worker, reason), this.cancelGraceMs);
    worker.draining = { id: job.id, timer };
    worker.process.send({ type: 'cancel', id: job.id } satisfies WorkerRequest, () => undefined);
  }

  private kill(worker: WorkerProcess, reason: string) {
    worker.stopReason ??= reason;
    if (worker.draining) clearTimeout(worker.draining.timer);
    worker.draining = undefined;
    worker.process.kill('SIGKILL');
    // Forget it now (its 'exit' still fails its job): the next job must not wait for the old process to go.
    if (this.worker === worker) this.worker = undefined;
    this.pump();
  }
}

/** An idle worker must not keep a CLI process alive; a busy one must. */
function setReferenced(child: ChildProcess, referenced: boolean) {
  const stderr = child.stderr as Socket | null;
  if (referenced) {
    child.ref();
    child.channel?.ref();
    stderr?.ref();
  } else {
    child.unref();
    child.channel?.unref();
    stderr?.unref();
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'was killed (SIGKILL: out of memory, or killed from outside)';
  if (signal) return `was killed by ${signal}`;
  return code === null ? 'could not start' : `exited with code ${code}`;
}

/** The line of the worker's stderr that says why it died ("FATAL ERROR: ... heap out of memory", "Error: Cannot find module"). */
function crashDetail(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.filter((l) => /FATAL ERROR|\bError\b/.test(l)).pop() ?? lines.pop() ?? '';
}
