// What every report writer takes: the analysed models, the files that could not be read, and who wrote the report.
import type { ModelReport } from '../analysis/types';
import type { RuleSettings } from '../config';
import type { ModelFailure } from '../jobs/types';
import type { AttackReport } from '../attack/types';
import type { LeakLintConfig } from '../config';
import type { AuditOutcome } from '../jobs/audit';
import { TOOL, type ToolInfo } from '../tool';
import type { Baseline } from './baseline';
import { withAttackReports } from '../verdict/decide';

export type { ToolInfo } from '../tool';

export interface ReportInput {
  tool: ToolInfo;
  reports: ModelReport[];
  /** Model files that could not be read or analysed: reported, never skipped silently. */
  failures: ModelFailure[];
  /** Rule settings from the config: severity overrides and rules switched off. */
  rules?: RuleSettings;
  /** Files are shown relative to this folder (SARIF SRCROOT). Default: the current working directory. */
  baseDir?: string;
  /** Reconstruction attacks run with the audit (`audit --attack`), one per attacked model. */
  attacks?: AttackReport[];
  /** The files the attacks produced, by the relative path their reports name (the HTML report inlines the images). */
  attackFiles?: ReadonlyMap<string, Uint8Array>;
  /** A previous report: only issues that are new or got worse since it are reported (and checked by --fail-on). */
  baseline?: Baseline;
}

/**
 * The report of a run: its audits in order (reports and failures), under the config's rule settings. Attacks run
 * with the audit are evidence for their model's verdict (a rebuilt image makes it high and proven in every format).
 */
export function reportInputOf(
  outcomes: readonly AuditOutcome[],
  config: Pick<LeakLintConfig, 'rules'>,
  baseDir: string,
  attacks?: Pick<ReportInput, 'attacks' | 'attackFiles'>,
): ReportInput {
  return {
    tool: TOOL,
    reports: outcomes.flatMap((o) => (o.kind === 'report' ? [withAttackReports(o.report, attacks?.attacks ?? [])] : [])),
    failures: outcomes.flatMap((o) => (o.kind === 'failure' ? [o.failure] : [])),
    rules: config.rules,
    baseDir,
    ...attacks,
  };
}
