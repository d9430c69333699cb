// The background runtime for the CLI's attacks: a hostile model or a crash in native code ends only the child
// process, and the CLI reports the failure per model.
import { RuntimeClient } from '../runtime/runtimeClient';
import { workerBundlePath } from '../node/bundle';
import { CliError } from './context';
import type { AttackJobOptions } from '../engine';

/** Attacks may take long; the CLI's own budget is generous (the extension's is a setting). */
const CLI_TIME_BUDGET_MS = 30 * 60_000;

export function createCliRuntime(): RuntimeClient {
  const worker = workerBundlePath();
  if (!worker) throw new CliError('the background worker bundle (dist/worker.js) is missing; run npm run build');
  return new RuntimeClient(worker, { timeBudgetMs: CLI_TIME_BUDGET_MS });
}

/**
 * The background runtime's budget for one attack job: the attack's own budget (the engine ends gradient matching in
 * time, keeping its best image) and a minute for the rest, never less than the CLI's generous default (a large
 * model's closed form alone may take minutes).
 */
export function jobBudgetMs(options: AttackJobOptions): number {
  return Math.max(CLI_TIME_BUDGET_MS, (options.timeBudgetMs ?? 0) + 60_000);
}
