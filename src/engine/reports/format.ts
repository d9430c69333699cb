// Small formatting helpers shared by the human-readable writers (terminal table, Markdown, layer listing).
import * as path from 'path';
import type { Fix, LayerFinding, LayerMetrics, ModelMetrics } from '../analysis/types';
import type { Shape } from '../ir';

/** "1x3x32x32"; several shapes joined with " + ". `times` lets Markdown use "×". */
export function formatShapes(shapes: readonly Shape[], times = 'x'): string {
  return shapes.length === 0 ? '-' : shapes.map((s) => formatShape(s, times)).join(' + ');
}

export function formatShape(shape: Shape, times = 'x'): string {
  return shape.length === 0 ? 'scalar' : shape.join(times);
}

/** Fixed decimals without trailing noise ("0.92", "-2.5"); null → `missing`. */
export function formatNumber(value: number | null | undefined, decimals = 0, missing = '-'): string {
  if (value === null || value === undefined || Number.isNaN(value)) return missing;
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  const fixed = value.toFixed(decimals);
  return decimals > 0 ? fixed.replace(/\.?0+$/, '') || '0' : fixed;
}

/** How a layer is named in reports: its name in the file, or its node id when the file leaves it unnamed (common in ONNX). */
export function layerLabel(finding: Pick<LayerFinding, 'name' | 'nodeId'>): string {
  return finding.name || finding.nodeId;
}

/** Risk in [0, 1] with two decimals, so that columns line up. */
export function formatRisk(risk: number | null | undefined, missing = '-'): string {
  return risk === null || risk === undefined || Number.isNaN(risk) ? missing : risk.toFixed(2);
}

/** Rank columns "K/W/U"; a rank known only as a bound shows as "<=N". */
export function formatRanks(metrics: LayerMetrics, missing = '-', atMost = '<='): string {
  const rank = (value: number | null, bound: number | undefined): string =>
    value !== null ? String(value) : bound !== undefined ? `${atMost}${bound}` : missing;
  return [rank(metrics.rankK, metrics.bounds?.rankK), rank(metrics.rankW, undefined), rank(metrics.rankU, metrics.bounds?.rankU)].join('/');
}

export function formatCoverage(coverage: ModelMetrics['coverage']): string {
  return `${coverage.numerical} numerical, ${coverage.bound} by bounds, ` + `${coverage.chainBroken} chain broken, ${coverage.notAnalysed} not analysed`;
}

/** Path relative to `baseDir` with "/" separators when the file is inside it; the absolute path otherwise. */
export function displayPath(file: string, baseDir: string): string {
  const relative = path.relative(baseDir, file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return file;
  return relative.split(path.sep).join('/');
}

export type Alignment = 'left' | 'right';

/** A plain-text table with padded columns, for terminals. */
export function renderTextTable(headers: string[], rows: string[][], align: Alignment[] = []): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table; cells are escaped. */
export function renderMarkdownTable(headers: string[], rows: string[][], align: Alignment[] = []): string {
  const line = (cells: string[]): string => `| ${cells.map(escapeMarkdownCell).join(' | ')} |`;
  const rule = `| ${headers.map((_, c) => (align[c] === 'right' ? '---:' : '---')).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

// GFM splits cells on "|" before reading inline code, so a pipe must be escaped even inside backticks.
function escapeMarkdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Inline code that survives backticks in the text. */
export function markdownCode(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** Escapes characters that Markdown would read as formatting in running text. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, '\\$&');
}

/** "layer deficiency 0 -> 280, layer risk 0.95 -> 0.2, model risk 0.92 -> 0.35, COPA 0 -> -233". */
export function describeFixEffect(fix: Fix, arrow = '->', missing = '-'): string {
  const count = (value: number | null): string => formatNumber(value, 0, missing);
  const risk = (value: number | null): string => formatRisk(value, missing);
  const change = (label: string, before: string, after: string): string => `${label} ${before} ${arrow} ${after}`;
  return [
    change('layer deficiency', count(fix.before.layerDeficiency), count(fix.after.layerDeficiency)),
    change('layer risk', risk(fix.before.layerRisk), risk(fix.after.layerRisk)),
    change('model risk', risk(fix.before.modelRisk), risk(fix.after.modelRisk)),
    change('COPA', count(fix.before.copa), count(fix.after.copa)),
  ].join(', ');
}

/** COPA and RA-i as the reports print them: the numbers, or "n/a" where the closed-form chain does not reach the image. */
export function formatIndices(model: ModelMetrics, missing = '-'): { copa: string; raCount: string; raNumerical: string } {
  if (model.copaIndex === null) return { copa: 'n/a', raCount: 'n/a', raNumerical: 'n/a' };
  return {
    copa: String(model.copaIndex),
    raCount: formatNumber(model.raIndexCount, 0, missing),
    raNumerical: formatNumber(model.raIndexNumerical, 0, missing),
  };
}

/** "HIGH risk (0.92)": the verdict's word and number, as every surface writes them. */
export function formatVerdict(model: Pick<ModelMetrics, 'severity' | 'risk'>, missing = '-'): string {
  return `${model.severity.toUpperCase()} risk (${formatRisk(model.risk, missing)})`;
}
