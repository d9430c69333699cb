// The extension's handle on the background runtime (src/runtime/runtimeClient): the same jobs, with the argument
// order extension.ts uses. Forking, memory cap, time budget, cancellation and restarts live in the runtime client.
import type { ModelReport } from '../engine/analysis/types';
import type { AttackReport } from '../engine/attack/types';
import type { TensorMap } from '../worker/ortForward';
import {
  RuntimeClient,
  type CancellationTokenLike,
  type JobOptions,
  type ProgressListener,
  type RuntimeClientOptions,
} from '../runtime/runtimeClient';

/** A failed job; `code` is a ModelReadError code, 'runtime' (onnxruntime-node) or 'internal'. */
export { RuntimeError as WorkerError } from '../runtime/runtimeClient';

export class WorkerClient {
  readonly runtime: RuntimeClient;

  constructor(workerPath: string, options?: RuntimeClientOptions) {
    this.runtime = new RuntimeClient(workerPath, options);
  }

  analyze(request: Parameters<RuntimeClient['analyze']>[0], onProgress?: ProgressListener, cancel?: CancellationTokenLike): Promise<ModelReport> {
    return this.runtime.analyze(request, { onProgress, cancellation: cancel });
  }

  layers(request: Parameters<RuntimeClient['layers']>[0], options?: JobOptions): Promise<string> {
    return this.runtime.layers(request, options);
  }

  forward(request: Parameters<RuntimeClient['forward']>[0], options?: JobOptions): Promise<TensorMap> {
    return this.runtime.forward(request, options);
  }

  attack(request: Parameters<RuntimeClient['attack']>[0], options?: JobOptions): Promise<AttackReport> {
    return this.runtime.attack(request, options);
  }

  /** Stops the worker process (its job fails); the next job starts a fresh one. */
  stop() {
    this.runtime.restart();
  }

  restart() {
    this.runtime.restart();
  }

  /** Stops the worker process for good. */
  dispose() {
    this.runtime.dispose();
  }
}
