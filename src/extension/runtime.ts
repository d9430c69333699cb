// The one place the extension gets its background runtime from: a child process (src/runtime/runtimeClient) that
// reads, analyses and attacks models, so that the extension host never parses a model nor loads native code itself.
// Every job is logged and counted (the counts are part of the extension's API: tests check that a reload asks the
// worker nothing).
import * as path from 'path';
import type * as vscode from 'vscode';
import { RuntimeClient, RuntimeError, type JobOptions } from '../runtime/runtimeClient';
import type { JobType } from '../shared/workerProtocol';

export { RuntimeClient, RuntimeError } from '../runtime/runtimeClient';

export class ObservedRuntime extends RuntimeClient {
  private readonly counts = new Map<string, number>();

  constructor(
    workerPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super(workerPath);
  }

  /** Jobs asked of the worker since activation, by job name. */
  jobCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  override run<P, R>(type: JobType<P, R>, params: P, options?: JobOptions): Promise<R> {
    this.counts.set(type.name, (this.counts.get(type.name) ?? 0) + 1);
    const file = (params as { file?: unknown }).file;
    const what = `${type.name} job${typeof file === 'string' ? ` on ${file}` : ''}`;
    const started = Date.now();
    this.log.debug(`${what}: queued`);
    return super.run(type, params, options).then(
      (result) => {
        this.log.info(`${what}: finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return result;
      },
      (e: unknown) => {
        const cancelled = e instanceof RuntimeError && (e.code === 'cancelled' || e.stopped === 'cancelled');
        if (cancelled) this.log.info(`${what}: cancelled`);
        else this.log.error(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
        throw e;
      },
    );
  }

  override restart() {
    this.log.warn('background runtime restarted');
    super.restart();
  }
}

export function createRuntimeClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): ObservedRuntime {
  return new ObservedRuntime(path.join(context.extensionPath, 'dist', 'worker.js'), log);
}

/** The sample photos that ship with the extension (media/samples). */
export function bundledSamplesFolder(context: vscode.ExtensionContext): string {
  return path.join(context.extensionPath, 'media', 'samples');
}
