// The Markdown report, written for a person reading a pull request: verdict first, the layer table, then why and what to do.
import { getRule, ruleHelpUri, SEVERITIES } from '../analysis/rules';
import type { LayerFinding, ModelReport } from '../analysis/types';
import { effectiveSeverity } from '../config';
import {
  describeFixEffect,
  displayPath,
  escapeMarkdown,
  formatCoverage,
  formatIndices,
  formatNumber,
  formatRanks,
  formatRisk,
  formatShape,
  formatVerdict,
  layerLabel,
  markdownCode,
  nothingToLeak,
  renderMarkdownTable,
  type Alignment,
  formatJacobianRank,
  formatLayerRanks,
  jacobianRankOf,
} from './format';
import type { ReportInput } from './input';
import { attackMarkdown } from './attack';
import { collectIssues, countBySeverity, describeBaseline, formatSeverityCounts, type Issue } from './issues';
import { evidenceSentence } from '../verdict/phrases';

const MISSING = '—';

export function writeMarkdown(input: ReportInput): string {
  const baseDir = input.baseDir ?? process.cwd();
  const issues = collectIssues(input);
  const sections: string[] = ['# LeakLint report', summaryLine(input, issues)];

  if (input.reports.length > 1) sections.push(overviewTable(input.reports, baseDir));
  for (const report of input.reports) {
    sections.push(
      modelSection(
        report,
        issues.filter((issue) => issue.report === report),
        input,
        baseDir,
      ),
    );
  }
  if (input.attacks?.length) sections.push(attackMarkdown(input.attacks, baseDir));
  if (input.failures.length > 0) {
    const lines = input.failures.map((failure) => {
      const { where, reason, code } = failure;
      return `- ${markdownCode(displayPath(failure.file, baseDir))}${where ? ` (${escapeMarkdown(where)})` : ''}: ${escapeMarkdown(reason)} (${code})`;
    });
    sections.push(['## Models that could not be read', '', ...lines].join('\n'));
  }
  return sections.join('\n\n') + '\n';
}

function summaryLine(input: ReportInput, issues: Issue[]): string {
  const parts = [`${input.tool.name} ${input.tool.version}`, `${input.reports.length} model${input.reports.length === 1 ? '' : 's'} analysed`];
  if (input.failures.length > 0) parts.push(`${input.failures.length} could not be read`);
  parts.push(`issues: ${formatSeverityCounts(countBySeverity(issues))}${escapeMarkdown(describeBaseline(input))}`);
  return parts.join(' · ');
}

function overviewTable(reports: ModelReport[], baseDir: string): string {
  const align: Alignment[] = ['left', 'left', 'right', 'left', 'right', 'right', 'left', 'left'];
  const rows = reports.map((r) => [
    markdownCode(displayPath(r.file, baseDir)),
    r.format,
    formatRisk(r.model.risk, MISSING),
    r.model.severity,
    formatIndices(r.model, MISSING).copa,
    formatIndices(r.model, MISSING).raCount,
    formatCoverage(r.model.coverage),
    escapeMarkdown(r.model.verdict.headline),
  ]);
  return renderMarkdownTable(['Model', 'Format', 'Risk', 'Severity', 'COPA', 'RA-i', 'Coverage', 'Verdict'], rows, align);
}

function modelSection(report: ModelReport, issues: Issue[], input: ReportInput, baseDir: string): string {
  const m = report.model;
  // No layer reads the image: no risk to show, and usually no layer to list.
  if (nothingToLeak(m.verdict)) {
    const parts = [`## ${markdownCode(displayPath(report.file, baseDir))}: nothing to analyse`, `**${escapeMarkdown(m.verdict.headline)}**`];
    if (report.layers.length > 0) parts.push(layerTable(report, input));
    return [...parts, ...warningsPart(report)].join('\n\n');
  }
  const heading = `## ${markdownCode(displayPath(report.file, baseDir))}: ${formatVerdict(m, MISSING)}`;
  const gaps = m.coverage.notAnalysed;
  const verdict =
    `**${escapeMarkdown(m.verdict.headline)}**` + (gaps > 0 ? ` ${gaps} layer${gaps === 1 ? ' was' : 's were'} not analysed: their leakage is unknown.` : '');
  const evidence = m.verdict.evidence.map((e) => `- ${escapeMarkdown(evidenceSentence(e))}`).join('\n');
  const indices = formatIndices(m, MISSING);
  const facts = [
    `- **Input**: ${formatShape(report.inputShape, '×')} (${report.format}), weights: ${report.weights === 'file' ? 'from the file' : 'Gaussian surrogates (architecture only)'}`,
    m.copaIndex === null
      ? `- **COPA index, RA-i**: ${escapeMarkdown(m.notApplicable ?? 'not applicable')} (over the layers anyway: COPA ${m.partial?.copaIndex}, RA-i ${m.partial?.raIndexCount})`
      : `- **COPA index**: ${indices.copa} (unrounded ${formatNumber(m.copaUnrounded, 2, MISSING)}) · **RA-i**: ${indices.raCount} (count), ${indices.raNumerical} (numerical)`,
    `- **Coverage**: ${formatCoverage(m.coverage)}`,
    `- **First deficient layer**: ${m.firstDeficientLayer ? markdownCode(m.firstDeficientLayer) : 'none'}`,
    `- **Analysis time**: ${formatNumber(report.seconds, 2, MISSING)} s`,
  ];
  const rank = jacobianRankOf(m);
  if (rank) {
    facts.push(
      `- **Gradient-matching identifiability**: Jacobian ${escapeMarkdown(formatJacobianRank(rank))}; per layer: ${escapeMarkdown(formatLayerRanks(rank))}`,
    );
  }
  const parts = [heading, verdict, evidence, facts.join('\n'), layerTable(report, input)].filter((p) => p.length > 0);

  const layerIssues = issues.filter((issue) => issue.finding);
  const listed = layerIssues.filter((issue) => issue.severity !== 'low').sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity));
  const quiet = layerIssues.filter((issue) => issue.severity === 'low');
  if (listed.length > 0) parts.push(['### Findings', '', ...listed.map(findingItem)].join('\n'));
  if (quiet.length > 0) {
    parts.push(
      [
        `<details><summary>${quiet.length} low-severity finding${quiet.length === 1 ? '' : 's'}</summary>`,
        '',
        ...quiet.map(findingItem),
        '',
        '</details>',
      ].join('\n'),
    );
  }
  return [...parts, ...warningsPart(report)].join('\n\n');
}

function warningsPart(report: ModelReport): string[] {
  return report.warnings.length > 0 ? [['**Warnings**', '', ...report.warnings.map((w) => `- ${escapeMarkdown(w)}`)].join('\n')] : [];
}

function layerTable(report: ModelReport, input: ReportInput): string {
  const headers = ['#', 'Layer', 'Op', 'Input → output', 'n_x', 'n_w', 'n_z', 'Rank K/W/U', 'Deficiency', 'Status', 'Risk', 'Rule'];
  const align: Alignment[] = ['right', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'right', 'left'];
  const rows = report.layers.map((layer) => [
    String(layer.index),
    markdownCode(layerLabel(layer)),
    escapeMarkdown(layer.description),
    `${formatShape(layer.inputShape, '×')} → ${formatShape(layer.outputShape, '×')}`,
    String(layer.metrics.nX),
    String(layer.metrics.nW),
    String(layer.metrics.nZ),
    formatRanks(layer.metrics, MISSING, '≤'),
    formatNumber(layer.metrics.deficiency, 0, MISSING),
    escapeMarkdown(layer.status),
    formatRisk(layer.risk, MISSING),
    `[${layer.ruleId}](${ruleHelpUri(layer.ruleId)}) ${effectiveSeverity(layer.ruleId, layer.severity, input.rules ?? {})}`,
  ]);
  return renderMarkdownTable(headers, rows, align);
}

function findingItem(issue: Issue): string {
  const finding = issue.finding as LayerFinding;
  const ruleName = getRule(issue.ruleId)?.name ?? '';
  const lines = [
    `- **${issue.severity}** · [${issue.ruleId}](${ruleHelpUri(issue.ruleId)}) ${ruleName} · ${markdownCode(layerLabel(finding))} (${escapeMarkdown(finding.description)}): ${escapeMarkdown(issue.message)}`,
    ...finding.fixes.map((fix) => `  - Fix: ${escapeMarkdown(fix.title)}: ${describeFixEffect(fix, '→', MISSING)}`),
  ];
  return lines.join('\n');
}
