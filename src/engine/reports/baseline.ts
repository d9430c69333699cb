// A baseline: a previous JSON report whose findings a run does not report again unless they got worse (`audit
// --baseline`), the way teams adopt a linter on models that already have findings. Findings are matched by rule id,
// model file (relative to each report's base folder) and layer node id (none for the model-level LL010).
import * as path from 'path';
import type { Severity } from '../analysis/types';
import { isAtLeast, SEVERITIES } from '../analysis/rules';

/** What a finding is compared on. */
export interface BaselineFinding {
  ruleId: string;
  severity: Severity;
  risk: number;
  /** Model file, relative to the report's base folder, with "/" separators. */
  file: string;
  /** Layer node id; "" for the model-level finding. */
  nodeId: string;
}

export interface Baseline {
  /** The report it was read from, as the user named it (for messages). */
  source: string;
  findings: ReadonlyMap<string, BaselineFinding>;
}

export type BaselineStatus = 'new' | 'worse' | 'unchanged';

/** A baseline file that is not a LeakLint JSON report; the message names the file and says what is wrong. */
export class BaselineError extends Error {
  override name = 'BaselineError';
}

/**
 * Reads a JSON report (`audit --format json`) as a baseline. Its files are taken relative to its `baseDir`; a report
 * written before `baseDir` was recorded is taken relative to `fallbackBaseDir` (the current run's).
 */
export function parseBaseline(text: string, source: string, fallbackBaseDir: string): Baseline {
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch (e) {
    throw new BaselineError(`${source}: not a JSON file (${(e as Error).message})`);
  }
  const envelope = report as { schemaVersion?: unknown; issues?: unknown; baseDir?: unknown } | null;
  if (typeof envelope !== 'object' || envelope === null || typeof envelope.schemaVersion !== 'number' || !Array.isArray(envelope.issues)) {
    throw new BaselineError(`${source}: not a LeakLint JSON report (expected "schemaVersion" and an "issues" list; write one with --format json)`);
  }
  const baseDir = typeof envelope.baseDir === 'string' ? envelope.baseDir : fallbackBaseDir;
  const findings = new Map<string, BaselineFinding>();
  for (const [index, issue] of (envelope.issues as unknown[]).entries()) {
    const finding = toFinding(issue, baseDir);
    if (!finding) throw new BaselineError(`${source}: issues[${index}] is not a LeakLint issue (ruleId, severity, file, risk)`);
    const key = baselineKey(finding);
    const known = findings.get(key);
    if (!known || compareFindings(finding, known) === 'worse') findings.set(key, finding);
  }
  return { source, findings };
}

function toFinding(value: unknown, baseDir: string): BaselineFinding | undefined {
  const issue = value as Record<string, unknown> | null;
  if (typeof issue !== 'object' || issue === null) return undefined;
  const { ruleId, severity, file, risk, nodeId } = issue;
  if (typeof ruleId !== 'string' || typeof file !== 'string' || typeof risk !== 'number') return undefined;
  if (!SEVERITIES.includes(severity as Severity) || (nodeId !== undefined && typeof nodeId !== 'string')) return undefined;
  return { ruleId, severity: severity as Severity, risk, file: relativeModelPath(file, baseDir), nodeId: nodeId ?? '' };
}

/** The model file as findings are matched: relative to the report's base folder, "/" separators. */
export function relativeModelPath(file: string, baseDir: string): string {
  return path.relative(baseDir, path.resolve(baseDir, file)).split(path.sep).join('/');
}

function baselineKey(finding: Pick<BaselineFinding, 'ruleId' | 'file' | 'nodeId'>): string {
  return `${finding.ruleId}\0${finding.file}\0${finding.nodeId}`;
}

/** Risk in tenths: a finding got worse when its risk moved up a bucket, not on every change in the last digit. */
export function riskBucket(risk: number): number {
  return Math.floor(risk * 10 + 1e-9);
}

/** New: not in the baseline; worse: a higher severity or a higher risk bucket; otherwise unchanged (or better). */
export function compareWithBaseline(finding: BaselineFinding, baseline: Baseline): BaselineStatus {
  const known = baseline.findings.get(baselineKey(finding));
  return known ? compareFindings(finding, known) : 'new';
}

function compareFindings(current: BaselineFinding, known: BaselineFinding): Exclude<BaselineStatus, 'new'> {
  if (current.severity !== known.severity) return isAtLeast(current.severity, known.severity) ? 'worse' : 'unchanged';
  return riskBucket(current.risk) > riskBucket(known.risk) ? 'worse' : 'unchanged';
}
