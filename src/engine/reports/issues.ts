// Issues: the findings a run reports after the rule settings, plus the model-level verdict (LL010).
// SARIF results, the JSON "issues" list, the summaries and the --fail-on exit code all come from here.
import type { LayerFinding, ModelReport, Severity } from '../analysis/types';
import { isAtLeast, SEVERITIES } from '../analysis/rules';
import { effectiveSeverity, type FailOn } from '../config';
import type { ReportInput } from './input';
import { compareWithBaseline, relativeModelPath } from './baseline';

export const MODEL_RULE_ID = 'LL010';

export interface Issue {
  ruleId: string;
  /** Severity after the rule settings. */
  severity: Severity;
  message: string;
  report: ModelReport;
  /** The layer finding; absent for the model-level issue. */
  finding?: LayerFinding;
}

export type SeverityCounts = Record<Severity, number>;

/**
 * Issues of every report in input order, layers before the model-level issue; rules set to "off" are left out, and
 * with a baseline so are the issues it already has at the same severity and risk bucket (only new or worse ones stay).
 */
export function collectIssues(input: ReportInput): Issue[] {
  return sortByBaseline(input).reported;
}

/** With a baseline: the issues that are new or got worse, and how many it already has. */
function sortByBaseline(input: ReportInput): { reported: Issue[]; unchanged: number } {
  const issues = allIssues(input);
  const { baseline } = input;
  if (!baseline) return { reported: issues, unchanged: 0 };
  const baseDir = input.baseDir ?? process.cwd();
  const reported = issues.filter((issue) => {
    const finding = {
      ruleId: issue.ruleId,
      severity: issue.severity,
      risk: issue.finding ? issue.finding.risk : issue.report.model.risk,
      file: relativeModelPath(issue.report.file, baseDir),
      nodeId: issue.finding?.nodeId ?? '',
    };
    return compareWithBaseline(finding, baseline) !== 'unchanged';
  });
  return { reported, unchanged: issues.length - reported.length };
}

/** What a run against a baseline left out, for the summaries; undefined without a baseline. */
export function baselineSummary(input: ReportInput): { file: string; unchanged: number } | undefined {
  return input.baseline ? { file: input.baseline.source, unchanged: sortByBaseline(input).unchanged } : undefined;
}

/** "; 3 unchanged since the baseline (previous.json) not shown", or "" without a baseline: for summary lines. */
export function describeBaseline(input: ReportInput): string {
  const summary = baselineSummary(input);
  return summary ? `; ${summary.unchanged} unchanged since the baseline (${summary.file}) not shown` : '';
}

function allIssues(input: ReportInput): Issue[] {
  const rules = input.rules ?? {};
  const issues: Issue[] = [];
  for (const report of input.reports) {
    for (const finding of report.layers) {
      const severity = effectiveSeverity(finding.ruleId, finding.severity, rules);
      if (severity !== 'off') issues.push({ ruleId: finding.ruleId, severity, message: finding.reason, report, finding });
    }
    // A low model risk is the absence of the model-level issue, not a "low" instance of it.
    if (report.model.severity !== 'low') {
      const severity = effectiveSeverity(MODEL_RULE_ID, report.model.severity, rules);
      if (severity !== 'off') issues.push({ ruleId: MODEL_RULE_ID, severity, message: modelVerdict(report), report });
    }
  }
  return issues;
}

/** The model's one sentence (the verdict's headline): the same on every surface. */
export function modelVerdict(report: ModelReport): string {
  return report.model.verdict.headline;
}

export function countBySeverity(issues: readonly Issue[]): SeverityCounts {
  const counts: SeverityCounts = { high: 0, medium: 0, low: 0 };
  for (const issue of issues) counts[issue.severity]++;
  return counts;
}

/** "2 high, 1 medium, 5 low" (most serious first). */
export function formatSeverityCounts(counts: SeverityCounts): string {
  return [...SEVERITIES]
    .reverse()
    .map((s) => `${counts[s]} ${s}`)
    .join(', ');
}

/** True when some issue is at or above the --fail-on level (exit code 1). */
export function failsOn(issues: readonly Issue[], failOn: FailOn): boolean {
  if (failOn === 'none') return false;
  return issues.some((issue) => isAtLeast(issue.severity, failOn));
}
