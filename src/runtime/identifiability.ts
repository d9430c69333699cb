// The identifiability evidence for an audited model, the same way for the CLI and the extension: the rank of the
// gradient map's Jacobian runs as a worker job (native code), and its evidence goes into the report's verdict. In an
// untrusted workspace, or with `identifiability: false`, nothing runs and the evidence is absent (never "safe").
import {
  type IdentifiabilityReport,
  identifiabilityEvidence,
  identifiabilityOptionsOf,
  withEvidence,
  type AuditOutcome,
  type IdentifiabilityJobOptions,
  type LeakLintConfig,
} from '../engine';
import { identifiabilityJob } from '../shared/workerProtocol';
import type { JobOptions, RuntimeClient } from './runtimeClient';

export interface IdentifiabilityRun {
  outcome: AuditOutcome;
  /** Why the evidence is absent, when the job ran and did not give it (for the output channel). */
  note?: string;
  /** The runtime failed (a crash, a time-out, onnxruntime), rather than the model being out of the rank's reach. */
  failed?: boolean;
}

/**
 * Ranks already taken, by what they depend on: the model's bytes (its content fingerprints), the input shape and the
 * job's options. The extension keeps one, so that a setting the rank does not depend on (failOn, thresholds, rules)
 * re-audits a model in a moment instead of retaking a rank that costs up to a minute.
 */
export class IdentifiabilityMemo {
  private readonly ranks = new Map<string, IdentifiabilityReport>();

  constructor(private readonly capacity = 64) {}

  get(key: string): IdentifiabilityReport | undefined {
    return this.ranks.get(key);
  }

  set(key: string, report: IdentifiabilityReport): void {
    this.ranks.delete(key);
    this.ranks.set(key, report);
    // Oldest first out (Map keeps insertion order).
    while (this.ranks.size > this.capacity) this.ranks.delete(this.ranks.keys().next().value as string);
  }
}

/** The audit outcome with the Jacobian-rank evidence in its verdict, when it can be had. */
export async function withIdentifiability(
  runtime: RuntimeClient,
  outcome: AuditOutcome,
  config: LeakLintConfig,
  context: {
    bundledSamples: string;
    trusted: boolean;
    options?: Partial<IdentifiabilityJobOptions>;
    /** Reuse ranks taken of the same bytes: the memo, and the model's content fingerprints (empty: do not reuse). */
    reuse?: { memo: IdentifiabilityMemo; fingerprints: readonly string[] };
  },
  jobOptions: JobOptions = {},
): Promise<IdentifiabilityRun> {
  // --quick computes no numerical ranks; untrusted workspaces run no native code.
  if (outcome.kind !== 'report' || config.identifiability === false || config.quick || !context.trusted) return { outcome };
  const { report } = outcome;
  const params = {
    file: report.file,
    config: { inputShape: config.inputShape },
    options: { ...identifiabilityOptionsOf(config, context.bundledSamples), ...context.options },
    trusted: true,
  };
  const withRank = (rank: IdentifiabilityReport): AuditOutcome => ({
    kind: 'report',
    report: withEvidence(report, [identifiabilityEvidence(rank, report.thresholds)]),
  });
  const key = context.reuse?.fingerprints.length ? JSON.stringify([context.reuse.fingerprints, params]) : undefined;
  const known = key ? context.reuse!.memo.get(key) : undefined;
  if (known) return { outcome: withRank(known) };
  try {
    // The job's own budget ("exact": ten minutes) plus a minute, where that is longer than the runtime's default.
    const seconds = params.options.timeBudgetSeconds;
    const budget = seconds !== undefined && Number.isFinite(seconds) ? { timeBudgetMs: Math.max(jobOptions.timeBudgetMs ?? 0, (seconds + 60) * 1000) } : {};
    const result = await runtime.run(identifiabilityJob, params, { ...jobOptions, ...budget });
    if (result.kind === 'identifiability') {
      if (key) context.reuse!.memo.set(key, result.report);
      return { outcome: withRank(result.report) };
    }
    return { outcome, note: `identifiability not measured: ${result.kind === 'failure' ? result.failure.reason : result.reason}` };
  } catch (e) {
    return { outcome, note: `identifiability not measured: ${e instanceof Error ? e.message : String(e)}`, failed: true };
  }
}
