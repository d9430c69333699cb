// Talks to the background worker: forks it on demand with a memory cap, forwards progress, cancels by killing it,
// and starts a fresh one after a crash, a cancellation or a time-out.
import { fork, type ChildProcess } from 'child_process';
import type { WorkerMessage, WorkerRequest } from '../worker/protocol';
import type { ModelReport } from '../engine/analysis/types';

/** The worker's answer to a failed request; `code` is a ModelReadError code, or 'internal'. */
export class WorkerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

interface Cancellation {
  onCancellationRequested(listener: () => void): { dispose(): unknown };
}

type Pending = {
  /** The process the request went to: when it exits, only its own requests fail. */
  child: ChildProcess;
  resolve: (message: WorkerMessage) => void;
  reject: (error: Error) => void;
  onProgress?: (done: number, total: number, label: string) => void;
};

/** A hostile model must not hold the worker for ever, nor take all the machine's memory. */
const REQUEST_TIMEOUT_MS = 5 * 60_000;
const WORKER_MEMORY_MB = 4096;

type Request = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export class WorkerClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly workerPath: string) {}

  async analyze(
    request: Omit<Extract<WorkerRequest, { type: 'analyze' }>, 'id' | 'type'>,
    onProgress?: Pending['onProgress'],
    cancel?: Cancellation,
  ): Promise<ModelReport> {
    const message = await this.request({ type: 'analyze', ...request }, onProgress, cancel);
    if (message.type !== 'result') throw new WorkerError('internal', `unexpected worker answer ${message.type}`);
    return message.report;
  }

  async layers(request: Omit<Extract<WorkerRequest, { type: 'layers' }>, 'id' | 'type'>): Promise<string> {
    const message = await this.request({ type: 'layers', ...request });
    if (message.type !== 'layers') throw new WorkerError('internal', `unexpected worker answer ${message.type}`);
    return message.text;
  }

  stop() {
    this.child?.kill();
    this.child = undefined;
  }

  private request(request: Request, onProgress?: Pending['onProgress'], cancel?: Cancellation): Promise<WorkerMessage> {
    const id = this.nextId++;
    const child = this.ensureChild();
    return new Promise<WorkerMessage>((resolve, reject) => {
      const abort = (reason: string) => {
        this.failAll(child, new WorkerError('internal', reason));
        if (this.child === child) this.stop();
      };
      const timer = setTimeout(() => abort(`the worker took longer than ${REQUEST_TIMEOUT_MS / 60_000} minutes; it was stopped`), REQUEST_TIMEOUT_MS);
      const listener = cancel?.onCancellationRequested(() => abort('cancelled'));
      const settle = () => {
        clearTimeout(timer);
        listener?.dispose();
      };
      this.pending.set(id, {
        child,
        resolve: (m) => (settle(), resolve(m)),
        reject: (e) => (settle(), reject(e)),
        onProgress,
      });
      child.send({ ...request, id } as WorkerRequest);
    });
  }

  private ensureChild(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(this.workerPath, [], {
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [`--max-old-space-size=${WORKER_MEMORY_MB}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.on('message', (message: WorkerMessage) => this.onMessage(message));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.failAll(child, new WorkerError('internal', `the LeakLint worker stopped (${signal ?? `exit code ${code}`}); it restarts on the next request`));
    });
    this.child = child;
    return child;
  }

  private onMessage(message: WorkerMessage) {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'progress') return pending.onProgress?.(message.done, message.total, message.label);
    this.pending.delete(message.id);
    if (message.type === 'error') pending.reject(new WorkerError(message.code, message.message));
    else pending.resolve(message);
  }

  /** Rejects every request that went to `child`. */
  private failAll(child: ChildProcess, error: Error) {
    for (const [id, p] of [...this.pending]) {
      if (p.child !== child) continue;
      this.pending.delete(id);
      p.reject(error);
    }
  }
}
