// The terminal report: per model a verdict line, the layer table and the findings worth reading; ASCII only. Every
// line is plain text (model names cannot add lines or escape sequences); warnings and read failures are the CLI's
// stderr lines, so the table counts failures but does not repeat them.
import type { ModelReport } from '../analysis/types';
import { effectiveSeverity } from '../config';
import {
  describeFixEffect,
  displayPath,
  formatCoverage,
  formatIndices,
  formatNumber,
  formatRanks,
  formatRisk,
  formatShape,
  formatVerdict,
  layerLabel,
  nothingToLeak,
  plainText,
  renderTextTable,
  type Alignment,
  formatJacobianRank,
  formatLayerRanks,
  jacobianRankOf,
} from './format';
import type { ReportInput } from './input';
import { collectIssues, countBySeverity, describeBaseline, formatSeverityCounts, type Issue } from './issues';

export function writeTable(input: ReportInput): string {
  const baseDir = input.baseDir ?? process.cwd();
  const issues = collectIssues(input);
  const blocks = input.reports.map((report) =>
    modelBlock(
      report,
      issues.filter((issue) => issue.report === report),
      input,
      baseDir,
    ),
  );
  const counts = formatSeverityCounts(countBySeverity(issues));
  const failed = input.failures.length > 0 ? `, ${input.failures.length} could not be read` : '';
  blocks.push(`${input.reports.length} model(s) analysed${failed}; issues: ${counts}${describeBaseline(input)}`);
  return blocks.join('\n\n') + '\n';
}

function modelBlock(report: ModelReport, issues: Issue[], input: ReportInput, baseDir: string): string {
  const m = report.model;
  const title = plainText(`${displayPath(report.file, baseDir)}  (${report.format}, input ${formatShape(report.inputShape)}, weights: ${report.weights})`);
  // No layer reads the image: no risk to show, and usually no layer to list.
  if (nothingToLeak(m.verdict)) {
    const lines = [title, plainText(m.verdict.headline)];
    return [lines.join('\n'), ...(report.layers.length > 0 ? [layerTable(report, input)] : [])].join('\n\n');
  }
  const indices = formatIndices(m);
  const header = [
    title,
    `${formatVerdict(m)}: ${m.verdict.headline}`,
    `COPA ${indices.copa}  RA-i ${indices.raCount} (count) ${indices.raNumerical} (numerical)  ` +
      `first deficient layer: ${m.firstDeficientLayer ?? 'none'}${m.notApplicable ? `  (COPA/RA-i ${m.notApplicable})` : ''}`,
    `coverage: ${formatCoverage(m.coverage)}`,
  ];
  const rank = jacobianRankOf(m);
  if (rank) header.push(`gradient matching: Jacobian ${formatJacobianRank(rank)}; per layer: ${formatLayerRanks(rank)}`);
  const headerLines = header.map(plainText);

  // The terminal lists what needs attention; low-severity findings stay in the table (and in the other formats).
  const findings = issues
    .filter((issue) => issue.finding && issue.severity !== 'low')
    .flatMap((issue) => [
      `${issue.severity.toUpperCase().padEnd(6)} ${issue.ruleId} ${issue.finding ? layerLabel(issue.finding) : ''}: ${issue.message}`,
      ...(issue.finding?.fixes ?? []).map((fix) => `       fix: ${fix.title}: ${describeFixEffect(fix)}`),
    ])
    .map(plainText);
  return [headerLines.join('\n'), layerTable(report, input), findings.join('\n')].filter((part) => part.length > 0).join('\n\n');
}

function layerTable(report: ModelReport, input: ReportInput): string {
  const headers = ['#', 'layer', 'op', 'input -> output', 'n_x', 'n_w', 'n_z', 'rank K/W/U', 'def', 'status', 'risk', 'rule'];
  const align: Alignment[] = ['right', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'right', 'left'];
  const rows = report.layers.map((layer) => [
    String(layer.index),
    layerLabel(layer),
    layer.description,
    `${formatShape(layer.inputShape)} -> ${formatShape(layer.outputShape)}`,
    String(layer.metrics.nX),
    String(layer.metrics.nW),
    String(layer.metrics.nZ),
    formatRanks(layer.metrics),
    formatNumber(layer.metrics.deficiency),
    layer.status,
    formatRisk(layer.risk),
    `${layer.ruleId} ${effectiveSeverity(layer.ruleId, layer.severity, input.rules ?? {})}`,
  ]);
  return renderTextTable(headers, rows, align);
}
