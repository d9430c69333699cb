// SARIF 2.1.0 for GitHub code scanning and SARIF viewers: one run, every rule in the driver, one result per issue.
// GitHub needs stable rule ids, paths relative to the checkout and fingerprints to follow an alert across runs.
import { createHash } from 'crypto';
import * as path from 'path';
import { pathToFileURL } from 'url';
import type * as Sarif from 'sarif';
import { getRule, RULES, ruleHelpUri, ruleIndex, type Rule } from '../analysis/rules';
import type { Severity } from '../analysis/types';
import type { SourceLocation } from '../ir';
import { layerLabel } from './format';
import type { ReportInput } from './input';
import { collectIssues, type Issue } from './issues';

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';
/** partialFingerprints key; bump the version if the fingerprint recipe changes. */
export const FINGERPRINT_KEY = 'leaklint/v1';
const SRCROOT = 'SRCROOT';

const LEVEL_BY_SEVERITY: Record<Severity, Sarif.ReportingConfiguration.level> = {
  high: 'error',
  medium: 'warning',
  low: 'note',
};

/** GitHub code scanning ranks security alerts by this 0–10 score (rule property "security-severity"). */
const SECURITY_SEVERITY: Record<Severity, string> = { high: '8.0', medium: '5.0', low: '2.0' };

export function buildSarifLog(input: ReportInput): Sarif.Log {
  const baseDir = path.resolve(input.baseDir ?? process.cwd());
  const artifacts = new ArtifactLocator(baseDir);

  const results = collectIssues(input).map((issue) => toResult(issue, artifacts));
  const notifications: Sarif.Notification[] = [
    ...input.failures.map((failure): Sarif.Notification => {
      const { code, where, reason } = failure;
      return {
        level: 'error',
        message: { text: where ? `${where}: ${reason}` : reason },
        locations: [{ physicalLocation: { artifactLocation: artifacts.locate(failure.file) } }],
        properties: { code, where },
      };
    }),
    ...input.reports.flatMap((report) =>
      report.warnings.map((warning): Sarif.Notification => ({
        level: 'warning',
        message: { text: warning },
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
        rules: RULES.map(toReportingDescriptor),
      },
    },
    originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(baseDir + path.sep).href } },
    columnKind: 'utf16CodeUnits',
    invocations: [invocation],
    results,
    properties: {
      models: input.reports.map((report) => ({
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
      })),
    },
  };
  return { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
}

export function writeSarif(input: ReportInput): string {
  return JSON.stringify(buildSarifLog(input), null, 2) + '\n';
}

function toReportingDescriptor(rule: Rule): Sarif.ReportingDescriptor {
  return {
    id: rule.id,
    name: rule.name,
    shortDescription: { text: rule.shortDescription },
    fullDescription: { text: rule.fullDescription },
    help: { text: rule.help, markdown: `${rule.help}\n\n[${rule.id} in the LeakLint rules](${ruleHelpUri(rule.id)})` },
    helpUri: ruleHelpUri(rule.id),
    defaultConfiguration: { level: LEVEL_BY_SEVERITY[rule.defaultSeverity] },
    properties: { tags: ['security', ...rule.tags], 'security-severity': SECURITY_SEVERITY[rule.defaultSeverity] },
  };
}

/** The config's rule settings, as SARIF records them: a different level, or the rule switched off. */
function ruleConfigurationOverrides(input: ReportInput): Sarif.ConfigurationOverride[] {
  return Object.entries(input.rules ?? {}).map(([id, setting]) => ({
    descriptor: { id, index: ruleIndex(id) },
    configuration: setting === 'off' ? { enabled: false } : { level: LEVEL_BY_SEVERITY[setting] },
  }));
}

function toResult(issue: Issue, artifacts: ArtifactLocator): Sarif.Result {
  const { report, finding } = issue;
  const artifactLocation = artifacts.locate(report.file);
  const displayName = artifacts.displayName(report.file);
  const rule = getRule(issue.ruleId);

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
    ruleId: issue.ruleId,
    ...(rule ? { ruleIndex: ruleIndex(rule.id) } : {}),
    level: LEVEL_BY_SEVERITY[issue.severity],
    message: { text: issue.message },
    locations: [{ physicalLocation, logicalLocations: [logicalLocation] }],
    partialFingerprints: { [FINGERPRINT_KEY]: fingerprint(issue.ruleId, displayName, finding?.nodeId ?? '') },
    properties: finding
      ? {
          risk: finding.risk,
          status: finding.status,
          layer: finding.description,
          deficiency: finding.metrics.deficiency,
          rankMethod: finding.metrics.rankMethod,
          fixes: finding.fixes.map((fix) => ({ title: fix.title, change: fix.change, before: fix.before, after: fix.after })),
        }
      : {
          risk: report.model.risk,
          severity: report.model.severity,
          proven: report.model.verdict.proven,
          evidence: report.model.verdict.evidence.map((e) => e.kind),
          copaIndex: report.model.copaIndex,
          raIndexCount: report.model.raIndexCount,
        },
  };
}

/** "node[12]" for ONNX, the JSON path ("modelTopology.config.layers[3]") for model.json. */
function describeSourceLocation(location: SourceLocation): string {
  if (location.format === 'onnx') return `node[${location.graphPath ?? location.nodeIndex}]`;
  return location.jsonPath.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}

function fingerprint(ruleId: string, file: string, nodeId: string): string {
  return createHash('sha256').update(`${ruleId}\0${file}\0${nodeId}`).digest('hex');
}

/** Turns model paths into artifact locations relative to SRCROOT (absolute file URIs when outside it). */
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
