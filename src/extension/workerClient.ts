// Talks to the background worker: forks it on demand, forwards progress, cancels by killing it,
// and starts a fresh one after a crash or a cancellation.
import { fork, type ChildProcess } from 'child_process';
import type { WorkerMessage, WorkerRequest } from '../worker/protocol';
import type { ModelReport } from '../engine/analysis/types';

type Pending = {
  resolve: (report: ModelReport) => void;
  reject: (error: Error) => void;
  onProgress?: (done: number, total: number, label: string) => void;
};

export class WorkerClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly workerPath: string) {}

  analyze(
    request: Omit<Extract<WorkerRequest, { type: 'analyze' }>, 'id' | 'type'>,
    onProgress?: Pending['onProgress'],
    cancel?: { onCancellationRequested(listener: () => void): unknown },
  ): Promise<ModelReport> {
    const id = this.nextId++;
    const child = this.ensureChild();
    return new Promise<ModelReport>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      cancel?.onCancellationRequested(() => {
        this.failAll(new Error('cancelled'));
        this.stop();
      });
      child.send({ id, type: 'analyze', ...request } satisfies WorkerRequest);
    });
  }

  stop() {
    this.child?.kill();
    this.child = undefined;
  }

  private ensureChild(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(this.workerPath, [], {
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.on('message', (message: WorkerMessage) => this.onMessage(message));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.pending.size) this.failAll(new Error(`LeakLint worker stopped (${signal ?? `exit code ${code}`}); it restarts on the next request`));
    });
    this.child = child;
    return child;
  }

  private onMessage(message: WorkerMessage) {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'progress') pending.onProgress?.(message.done, message.total, message.label);
    else {
      this.pending.delete(message.id);
      if (message.type === 'result') pending.resolve(message.report);
      else pending.reject(new Error(message.message));
    }
  }

  private failAll(error: Error) {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
