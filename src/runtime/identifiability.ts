// The identifiability evidence for an audited model, the same way for the CLI and the extension: the rank of the
// gradient map's Jacobian runs as a worker job (native code), and its evidence goes into the report's verdict. In an
// untrusted workspace, or with `identifiability: false`, nothing runs and the evidence is absent (never "safe").
import {
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

/** The audit outcome with the Jacobian-rank evidence in its verdict, when it can be had. */
export async function withIdentifiability(
  runtime: RuntimeClient,
  outcome: AuditOutcome,
  config: LeakLintConfig,
  context: { bundledSamples: string; trusted: boolean; options?: Partial<IdentifiabilityJobOptions> },
  jobOptions: JobOptions = {},
): Promise<IdentifiabilityRun> {
  // --quick computes no numerical ranks; untrusted workspaces run no native code.
  if (outcome.kind !== 'report' || config.identifiability === false || config.quick || !context.trusted) return { outcome };
  const { report } = outcome;
  try {
    const result = await runtime.run(
      identifiabilityJob,
      {
        file: report.file,
        config: { inputShape: config.inputShape },
        options: { ...identifiabilityOptionsOf(config, context.bundledSamples), ...context.options },
        trusted: true,
      },
      jobOptions,
    );
    if (result.kind === 'identifiability') {
      return { outcome: { kind: 'report', report: withEvidence(report, [identifiabilityEvidence(result.report, report.thresholds)]) } };
    }
    return { outcome, note: `identifiability not measured: ${result.kind === 'failure' ? result.failure.reason : result.reason}` };
  } catch (e) {
    return { outcome, note: `identifiability not measured: ${e instanceof Error ? e.message : String(e)}`, failed: true };
  }
}
