// The JSON report: a versioned envelope around the ModelReport objects (README "JSON report").
import type { ModelReport, Severity } from '../analysis/types';
import type { AttackReport } from '../attack/types';
import { jsonText, layerLabel } from './format';
import type { ModelFailure } from '../jobs/types';
import type { ReportInput } from './input';
import { baselineSummary, collectIssues, countBySeverity, type SeverityCounts } from './issues';

/** Bumped only on incompatible changes of the envelope or of the report types. */
export const JSON_REPORT_SCHEMA_VERSION = 1;

export interface JsonIssue {
  ruleId: string;
  /** After the config's rule settings. */
  severity: Severity;
  file: string;
  /** Layer node id; absent for the model-level issue (LL010). */
  nodeId?: string;
  layer?: string;
  message: string;
  risk: number;
}

export interface JsonReport {
  schemaVersion: number;
  tool: { name: string; version: string };
  /** ISO 8601; left out when the writer is asked for byte-identical output. */
  generatedAt?: string;
  /** The folder the run's paths are relative to (its working folder); a baseline's files are matched relative to it. */
  baseDir: string;
  /** One entry per analysed model, as computed by the engine (rule settings not applied). */
  reports: ModelReport[];
  /** Model files that could not be read or analysed. */
  failures: ModelFailure[];
  /** The findings the run reports, after rule settings; what --fail-on is checked against. */
  issues: JsonIssue[];
  /** `baseline`: with `audit --baseline`, the report compared with and how many of its issues are left out as unchanged. */
  summary: { models: number; failures: number; issues: SeverityCounts; baseline?: { file: string; unchanged: number } };
  /** Reconstruction attacks (audit --attack); image paths are relative to the report folder. */
  attacks?: AttackReport[];
}

export interface JsonWriteOptions {
  /** Time stamp to record; omit for deterministic output. */
  generatedAt?: Date;
  /** Leave out run timings (ModelReport.seconds), so that the same models give the same bytes. */
  reproducible?: boolean;
}

export function buildJsonReport(input: ReportInput, options: JsonWriteOptions = {}): JsonReport {
  const issues = collectIssues(input);
  return {
    schemaVersion: JSON_REPORT_SCHEMA_VERSION,
    tool: { name: input.tool.name, version: input.tool.version },
    ...(options.generatedAt ? { generatedAt: options.generatedAt.toISOString() } : {}),
    baseDir: input.baseDir ?? process.cwd(),
    reports: options.reproducible ? input.reports.map(({ seconds: _seconds, ...rest }) => rest as ModelReport) : input.reports,
    failures: input.failures,
    issues: issues.map((issue) => ({
      ruleId: issue.ruleId,
      severity: issue.severity,
      file: issue.report.file,
      ...(issue.finding ? { nodeId: issue.finding.nodeId, layer: layerLabel(issue.finding) } : {}),
      message: issue.message,
      risk: issue.finding ? issue.finding.risk : issue.report.model.risk,
    })),
    summary: {
      models: input.reports.length,
      failures: input.failures.length,
      issues: countBySeverity(issues),
      ...(input.baseline ? { baseline: baselineSummary(input) } : {}),
    },
    ...(input.attacks ? { attacks: input.attacks } : {}),
  };
}

export function writeJson(input: ReportInput, options: JsonWriteOptions = {}): string {
  return jsonText(buildJsonReport(input, options));
}
