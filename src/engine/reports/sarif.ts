// SARIF 2.1.0 for GitHub code scanning and SARIF viewers: one run, one result per issue worth an alert (each model's
// verdict, and its layer findings at or above a level, at most MAX_LAYER_RESULTS_PER_MODEL of them).
// GitHub needs stable rule ids, paths relative to the repository and fingerprints to follow an alert across runs; it
// ranks security alerts by the *rule's* "security-severity" (results have no such property in its SARIF subset), so
// every rule is declared once per severity ("LL002/medium") and a result names the one of its own severity: a note
// never shows as a High alert.
import { createHash } from 'crypto';
import * as path from 'path';
import { pathToFileURL } from 'url';
import type * as Sarif from 'sarif';
import { isAtLeast, RULES, ruleHelpUri, SEVERITIES, type Rule } from '../analysis/rules';
import type { ModelReport, Severity } from '../analysis/types';
import type { SourceLocation } from '../ir';
import { formatJacobianRank, formatLayerRanks, jacobianRankOf, jsonText, layerLabel, plainText } from './format';
import type { ReportInput } from './input';
import { collectIssues, MODEL_RULE_ID, type Issue } from './issues';

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';
/** partialFingerprints key; bump the version if the fingerprint recipe changes. */
export const FINGERPRINT_KEY = 'leaklint/v1';
const SRCROOT = 'SRCROOT';

export interface SarifOptions {
  /** The folder artifact URIs are relative to (SRCROOT), normally the repository root. Default: the report's baseDir. */
  root?: string;
  /** Lowest severity of a layer finding that becomes a result; the model verdict (LL010) always does. Default: medium. */
  minLevel?: Severity;
}

export const SARIF_DEFAULT_MIN_LEVEL: Severity = 'medium';
/** Layer results per model at most (the most severe, then the riskiest): a huge model must not flood the alert list. */
export const MAX_LAYER_RESULTS_PER_MODEL = 25;

const LEVEL_BY_SEVERITY: Record<Severity, Sarif.ReportingConfiguration.level> = {
  high: 'error',
  medium: 'warning',
  low: 'note',
};

/** GitHub code scanning's 0–10 score: 7.0–8.9 is High, 4.0–6.9 Medium, 0.1–3.9 Low. */
const SECURITY_SEVERITY: Record<Severity, string> = { high: '8.0', medium: '5.0', low: '2.0' };

/** Most severe first, as the rules are declared. */
const DECLARED_SEVERITIES: readonly Severity[] = [...SEVERITIES].reverse();

/** The SARIF rule id of an issue: its rule at its severity, "LL002/medium". */
export function sarifRuleId(ruleId: string, severity: Severity): string {
  return `${ruleId}/${severity}`;
}

function sarifRuleIndex(ruleId: string, severity: Severity): number {
  return RULES.findIndex((r) => r.id === ruleId) * DECLARED_SEVERITIES.length + DECLARED_SEVERITIES.indexOf(severity);
}

export function buildSarifLog(input: ReportInput, options: SarifOptions = {}): Sarif.Log {
  const baseDir = path.resolve(input.baseDir ?? process.cwd());
  const root = path.resolve(baseDir, options.root ?? baseDir);
  const minLevel = options.minLevel ?? SARIF_DEFAULT_MIN_LEVEL;
  const artifacts = new ArtifactLocator(root);

  const issues = collectIssues(input);
  const selections = new Map(
    input.reports.map((report) => [
      report,
      selectResults(
        issues.filter((issue) => issue.report === report),
        minLevel,
      ),
    ]),
  );
  const selected = new Set([...selections.values()].flatMap((s) => s.issues));
  const results = issues.filter((issue) => selected.has(issue)).map((issue) => toResult(issue, artifacts));
  const notifications: Sarif.Notification[] = [
    ...input.failures.map((failure): Sarif.Notification => {
      const { code, where, reason } = failure;
      return {
        level: 'error',
        message: { text: plainText(where ? `${where}: ${reason}` : reason) },
        locations: [{ physicalLocation: { artifactLocation: artifacts.locate(failure.file) } }],
        properties: { code, where },
      };
    }),
    ...input.reports.flatMap((report) =>
      report.warnings.map((warning): Sarif.Notification => ({
        level: 'warning',
        message: { text: plainText(warning) },
        locations: [{ physicalLocation: { artifactLocation: artifacts.locate(report.file) } }],
      })),
    ),
  ];

  const invocation: Sarif.Invocation = {
    executionSuccessful: input.failures.length === 0,
    ...(notifications.length > 0 ? { toolExecutionNotifications: notifications } : {}),
  };
  const overrides = ruleConfigurationOverrides(input);
  if (overrides.length > 0) invocation.ruleConfigurationOverrides = overrides;

  const run: Sarif.Run = {
    tool: {
      driver: {
        name: 'LeakLint',
        version: input.tool.version,
        semanticVersion: input.tool.version,
        ...(input.tool.informationUri ? { informationUri: input.tool.informationUri } : {}),
        rules: RULES.flatMap((rule) => DECLARED_SEVERITIES.map((severity) => toReportingDescriptor(rule, severity))),
      },
    },
    originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(root + path.sep).href } },
    columnKind: 'utf16CodeUnits',
    invocations: [invocation],
    results,
    properties: {
      minLevel,
      maxLayerResultsPerModel: MAX_LAYER_RESULTS_PER_MODEL,
      models: input.reports.map((report) => modelProperties(report, artifacts, selections.get(report)!)),
    },
  };
  return { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
}

export function writeSarif(input: ReportInput, options: SarifOptions = {}): string {
  return jsonText(buildSarifLog(input, options));
}

interface Selection {
  issues: Issue[];
  /** Layer findings below the minimum level, and over the per-model limit. */
  belowLevel: number;
  overLimit: number;
}

/** The model verdict, and the most severe (then riskiest) layer findings at or above `minLevel`, up to the limit. */
function selectResults(issues: Issue[], minLevel: Severity): Selection {
  const layers = issues.filter((issue) => issue.finding);
  const eligible = layers.filter((issue) => isAtLeast(issue.severity, minLevel));
  const ranked = [...eligible].sort(
    (a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || b.finding!.risk - a.finding!.risk || a.finding!.index - b.finding!.index,
  );
  const kept = new Set(ranked.slice(0, MAX_LAYER_RESULTS_PER_MODEL));
  return {
    issues: issues.filter((issue) => !issue.finding || kept.has(issue)),
    belowLevel: layers.length - eligible.length,
    overLimit: eligible.length - kept.size,
  };
}

function modelProperties(report: ModelReport, artifacts: ArtifactLocator, selection: Selection): Record<string, unknown> {
  return {
    file: artifacts.displayName(report.file),
    format: report.format,
    inputShape: report.inputShape,
    weights: report.weights,
    risk: report.model.risk,
    severity: report.model.severity,
    verdict: { headline: report.model.verdict.headline, proven: report.model.verdict.proven, evidence: report.model.verdict.evidence },
    copaIndex: report.model.copaIndex,
    copaUnrounded: report.model.copaUnrounded,
    raIndexCount: report.model.raIndexCount,
    raIndexNumerical: report.model.raIndexNumerical,
    firstDeficientLayer: report.model.firstDeficientLayer,
    coverage: report.model.coverage,
    layers: report.layers.length,
    // Layer findings that are in the other formats but not results here.
    findingsLeftOut: { belowLevel: selection.belowLevel, overLimit: selection.overLimit },
  };
}

function toReportingDescriptor(rule: Rule, severity: Severity): Sarif.ReportingDescriptor {
  return {
    id: sarifRuleId(rule.id, severity),
    name: rule.name,
    shortDescription: { text: rule.shortDescription },
    fullDescription: { text: rule.fullDescription },
    help: { text: rule.help, markdown: `${rule.help}\n\n[${rule.id} in the LeakLint rules](${ruleHelpUri(rule.id)})` },
    helpUri: ruleHelpUri(rule.id),
    defaultConfiguration: { level: LEVEL_BY_SEVERITY[severity] },
    properties: { tags: ['security', ...rule.tags], 'security-severity': SECURITY_SEVERITY[severity], severity },
  };
}

/**
 * The config's rule settings, as SARIF records them: a rule switched off disables its descriptors; a rule set to one
 * severity reports all its findings at it, so its descriptors of the other severities are disabled.
 */
function ruleConfigurationOverrides(input: ReportInput): Sarif.ConfigurationOverride[] {
  return Object.entries(input.rules ?? {}).flatMap(([id, setting]) =>
    RULES.some((rule) => rule.id === id)
      ? DECLARED_SEVERITIES.filter((severity) => severity !== setting).map((severity) => ({
          descriptor: { id: sarifRuleId(id, severity), index: sarifRuleIndex(id, severity) },
          configuration: { enabled: false },
        }))
      : [],
  );
}

function toResult(issue: Issue, artifacts: ArtifactLocator): Sarif.Result {
  const { report, finding } = issue;
  const artifactLocation = artifacts.locate(report.file);
  const displayName = artifacts.displayName(report.file);
  const known = RULES.some((rule) => rule.id === issue.ruleId);

  const physicalLocation: Sarif.PhysicalLocation = { artifactLocation };
  // SARIF has no "layer" kind: a layer is a member of the model, the model a module.
  const logicalLocation: Sarif.LogicalLocation = finding
    ? {
        name: layerLabel(finding),
        fullyQualifiedName: `${displayName}/${describeSourceLocation(finding.location)}:${layerLabel(finding)}`,
        kind: 'member',
      }
    : { name: path.basename(report.file), fullyQualifiedName: displayName, kind: 'module' };
  if (finding?.location.format === 'json') physicalLocation.region = region(finding.location);

  return {
    ruleId: sarifRuleId(issue.ruleId, issue.severity),
    ...(known ? { ruleIndex: sarifRuleIndex(issue.ruleId, issue.severity) } : {}),
    level: LEVEL_BY_SEVERITY[issue.severity],
    // Plain text: GitHub shows it as the alert's title; a name from the file must not bring control characters.
    message: { text: plainText(finding ? issue.message : withJacobianRank(issue.message, report)) },
    locations: [{ physicalLocation, logicalLocations: [logicalLocation] }],
    // The rule without its severity: an alert keeps its fingerprint when its severity changes.
    partialFingerprints: { [FINGERPRINT_KEY]: fingerprint(issue.ruleId, displayName, finding?.nodeId ?? '') },
    properties: finding
      ? {
          rule: issue.ruleId,
          severity: issue.severity,
          risk: finding.risk,
          status: finding.status,
          layer: finding.description,
          deficiency: finding.metrics.deficiency,
          rankMethod: finding.metrics.rankMethod,
          fixes: finding.fixes.map((fix) => ({ title: fix.title, change: fix.change, before: fix.before, after: fix.after })),
        }
      : {
          rule: MODEL_RULE_ID,
          risk: report.model.risk,
          severity: report.model.severity,
          proven: report.model.verdict.proven,
          evidence: report.model.verdict.evidence.map((e) => e.kind),
          ...(jacobianRankOf(report.model) ? { jacobianRank: jacobianRankOf(report.model) } : {}),
          copaIndex: report.model.copaIndex,
          raIndexCount: report.model.raIndexCount,
        },
  };
}

/** The model-level message with the Jacobian rank behind the verdict, when it was measured. */
function withJacobianRank(message: string, report: Issue['report']): string {
  const rank = jacobianRankOf(report.model);
  return rank ? `${message} Gradient matching: Jacobian ${formatJacobianRank(rank)}; per layer: ${formatLayerRanks(rank)}.` : message;
}

/** "node[12]" for ONNX, the JSON path ("modelTopology.config.layers[3]") for model.json. */
function describeSourceLocation(location: SourceLocation): string {
  if (location.format === 'onnx') return `node[${location.graphPath ?? location.nodeIndex}]`;
  return location.jsonPath.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}

function fingerprint(ruleId: string, file: string, nodeId: string): string {
  return createHash('sha256').update(`${ruleId}\0${file}\0${nodeId}`).digest('hex');
}

/** Turns model paths into artifact locations relative to SRCROOT (absolute file URIs, the last resort, when outside it). */
class ArtifactLocator {
  constructor(private readonly baseDir: string) {}

  locate(file: string): Sarif.ArtifactLocation {
    const relative = this.relative(file);
    if (relative === undefined) return { uri: pathToFileURL(path.resolve(file)).href };
    return { uri: relative.split('/').map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
  }

  /** Relative path with "/" when inside the base folder, else the absolute path: stable across machines for fingerprints. */
  displayName(file: string): string {
    return this.relative(file) ?? path.resolve(file);
  }

  private relative(file: string): string | undefined {
    const relative = path.relative(this.baseDir, path.resolve(this.baseDir, file));
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
    return relative.split(path.sep).join('/');
  }
}

/** A model.json span as a SARIF region: 1-based lines and columns (UTF-16 code units). */
function region(location: Extract<SourceLocation, { format: 'json' }>): Sarif.Region {
  const { offset, length, range } = location;
  return {
    charOffset: offset,
    charLength: length,
    startLine: range.start.line + 1,
    startColumn: range.start.character + 1,
    endLine: range.end.line + 1,
    endColumn: range.end.character + 1,
  };
}
