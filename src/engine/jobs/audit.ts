// The audit of one model file: read it, analyse it, and give back its report or a typed failure. The CLI (in its
// own process) and the extension (through the background worker) both call exactly this.
import { analyseModel } from '../analysis/analyseModel';
import type { ModelReport } from '../analysis/types';
import type { LeakLintConfig } from '../config';
import type { LayerGraph } from '../ir';
import type { ReadOptions } from '../options';
import { readModel } from '../readers';
import { toModelFailure, type Failed, type JobContext, type ModelFailure } from './types';

export type AuditOutcome = { kind: 'report'; report: ModelReport } | Failed;

/** What a job needs to know about where it runs: untrusted workspaces open no ONNX external data. */
export interface Trust {
  trusted: boolean;
}

/** The read options a config and a trust level give. */
export function readOptionsOf(config: Pick<LeakLintConfig, 'inputShape'>, trust: Trust): ReadOptions {
  return { inputShape: config.inputShape, externalData: trust.trusted };
}

/** Every job starts here: the model's graph, or the typed failure reading it ended in (never a throw for a bad model). */
export async function readJobModel(
  file: string,
  config: Pick<LeakLintConfig, 'inputShape'>,
  context: JobContext & Trust,
): Promise<{ graph: LayerGraph } | { failure: ModelFailure }> {
  try {
    return { graph: await readModel(context.files, file, readOptionsOf(config, context)) };
  } catch (e) {
    return { failure: toModelFailure(file, e, 'reading') };
  }
}

/** Reads and analyses `file` with the config's settings; never throws for a bad model. */
export async function auditFile(file: string, config: LeakLintConfig, context: JobContext & Trust): Promise<AuditOutcome> {
  const read = await readJobModel(file, config, context);
  if ('failure' in read) return { kind: 'failure', failure: read.failure };
  const { graph } = read;
  context.signal?.throwIfAborted();
  try {
    const report = analyseModel(graph, {
      surrogateWeights: config.surrogateWeights ?? false,
      fixes: config.fixes ?? true,
      maxFlopsPerModel: config.quick ? 0 : undefined,
      thresholds: config.thresholds,
      onProgress: context.onProgress,
    });
    return { kind: 'report', report };
  } catch (e) {
    return { kind: 'failure', failure: toModelFailure(file, e, 'analysing') };
  }
}
