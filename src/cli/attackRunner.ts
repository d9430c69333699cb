// Runs reconstruction attacks for the CLI in the background runtime (a child process): a hostile model or a crash
// in native code ends only that child, and the CLI reports the failure per model.
import * as fs from 'fs';
import * as path from 'path';
import type { AttackJobOptions } from '../engine/attack/attack';
import type { AttackReport } from '../engine/attack/types';
import type { ReadOptions } from '../engine/options';
import { RuntimeClient } from '../runtime/runtimeClient';
import { CliError } from './context';
import type { Progress } from './progress';

/** dist/worker.js next to the CLI bundle, or the built bundle when the CLI runs from source (tests, tsx). */
export function workerBundlePath(): string {
  const candidates = [path.join(__dirname, 'worker.js'), path.resolve(__dirname, '..', '..', 'dist', 'worker.js')];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new CliError(`the background worker bundle is missing (looked for ${candidates.join(', ')}); run npm run build`);
  return found;
}

export interface AttackRunRequest {
  file: string;
  read: ReadOptions;
  options: AttackJobOptions;
}

export class CliAttackRunner {
  private readonly client = new RuntimeClient(workerBundlePath(), { timeBudgetMs: 30 * 60_000 });

  async run(request: AttackRunRequest, progress: Progress): Promise<AttackReport> {
    return this.client.attack(
      { file: request.file, read: request.read, options: request.options, trusted: true },
      { onProgress: (done, total, label) => progress.steps(done, total, label) },
    );
  }

  dispose(): void {
    this.client.dispose();
  }
}
