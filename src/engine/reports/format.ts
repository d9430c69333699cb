// Small formatting helpers shared by the human-readable writers (terminal table, Markdown, layer listing).
import * as path from 'path';
import type { Fix, LayerFinding, LayerMetrics, ModelMetrics } from '../analysis/types';
import type { Shape } from '../ir';
import type { ModelVerdict } from '../verdict/types';
import { describeJacobianRank } from '../verdict/phrases';
import type { JacobianRankEvidence } from '../verdict/types';

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

/**
 * Characters that must not reach a terminal or a report as they are: C0 and C1 controls (newlines and ANSI escapes
 * forge output lines), invisible format characters (bidirectional overrides and isolates reorder what is shown,
 * zero-width characters hide text), line and paragraph separators, and lone surrogates.
 */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;
/** What JSON.stringify leaves raw of those (it escapes C0 controls and lone surrogates itself; JSON's own whitespace stays). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from a model file (names, warnings and reasons that quote them) as one visible line: every unsafe character
 * becomes an escape ("\n", "\x1b", "\u202e"). Every terminal writer, stderr line and SARIF message goes through it.
 */
export function plainText(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (c) => {
    const named = NAMED_ESCAPES[c];
    if (named) return named;
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : unicodeEscapes(c);
  });
}

/**
 * JSON whose strings carry no raw control or invisible characters: JSON.stringify escapes C0 controls but leaves
 * DEL, C1 controls, bidirectional overrides and separators raw, which a terminal would act on. The parsed value is
 * unchanged.
 */
export function jsonText(value: unknown, replacer?: (key: string, value: unknown) => unknown, indent = 2): string {
  // Outside strings JSON has only ASCII punctuation and whitespace, so every match is inside a string.
  return JSON.stringify(value, replacer, indent).replace(UNSAFE_IN_JSON, unicodeEscapes) + (indent ? '\n' : '');
}

/** "\u202e"; a character outside the BMP as its two surrogate escapes. */
function unicodeEscapes(text: string): string {
  return text
    .split('')
    .map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .join('');
}

/** Text for HTML element content and attribute values: entities for markup, unsafe characters made visible. */
export function escapeHtml(text: string): string {
  return plainText(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export type Alignment = 'left' | 'right';

/** A plain-text table with padded columns, for terminals; cells are made plain text. */
export function renderTextTable(headers: string[], rows: string[][], align: Alignment[] = []): string {
  const plainRows = rows.map((row) => row.map(plainText));
  const widths = headers.map((h, c) => Math.max(h.length, ...plainRows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...plainRows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table; cells are Markdown already (escapeMarkdown, markdownCode), pipes are escaped here. */
export function renderMarkdownTable(headers: string[], rows: string[][], align: Alignment[] = []): string {
  const line = (cells: string[]): string => `| ${cells.map(escapeMarkdownCell).join(' | ')} |`;
  const rule = `| ${headers.map((_, c) => (align[c] === 'right' ? '---:' : '---')).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

// GFM splits cells on "|" before reading inline code, so a pipe must be escaped even inside backticks (an already
// escaped pipe stays as it is).
function escapeMarkdownCell(text: string): string {
  return plainText(text).replace(/\\?\|/g, '\\|');
}

/** Inline code that survives backticks in the text; unsafe characters are made visible first (a newline would end it). */
export function markdownCode(text: string): string {
  const plain = plainText(text);
  const fence = plain.includes('`') ? '``' : '`';
  const pad = plain.startsWith('`') || plain.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${plain}${pad}${fence}`;
}

/**
 * Text from a model file in Markdown running text: unsafe characters made visible, and every character Markdown or
 * the HTML it allows could read as markup escaped (emphasis, code, links and images, raw HTML, entities, tables,
 * headings, strikethrough).
 */
export function escapeMarkdown(text: string): string {
  return plainText(text).replace(/[\\`*_[\]<>|#&~!]/g, '\\$&');
}

/**
 * "layer deficiency 0 -> 280, layer risk 0.95 -> 0.2, closed-form risk 0.92 -> 0.35, COPA 0 -> -233". A fix is proven
 * by re-analysing the closed form: it says nothing about gradient matching, so its model figure is named for what it is.
 */
export function describeFixEffect(fix: Fix, arrow = '->', missing = '-'): string {
  const count = (value: number | null): string => formatNumber(value, 0, missing);
  const risk = (value: number | null): string => formatRisk(value, missing);
  const change = (label: string, before: string, after: string): string => `${label} ${before} ${arrow} ${after}`;
  return [
    change('layer deficiency', count(fix.before.layerDeficiency), count(fix.after.layerDeficiency)),
    change('layer risk', risk(fix.before.layerRisk), risk(fix.after.layerRisk)),
    change('closed-form risk', risk(fix.before.modelRisk), risk(fix.after.modelRisk)),
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

/**
 * No layer with trainable parameters reads the image (no conv or dense layer on its path), and no attack rebuilt it:
 * the verdict's headline then starts "Nothing to leak", and the reports say so instead of showing a risk.
 */
export function nothingToLeak(verdict: ModelVerdict): boolean {
  return !verdict.proven && !verdict.evidence.some((e) => e.kind === 'closed-form');
}

/** The Jacobian-rank evidence of a model's verdict (the rank of ∂(∇θ loss)/∂image), when it was measured. */
export function jacobianRankOf(model: Pick<ModelMetrics, 'verdict'>): JacobianRankEvidence | undefined {
  for (const e of model.verdict.evidence) if (e.kind === 'gradient-matching' && e.basis === 'jacobian-rank' && e.rank) return e.rank;
  return undefined;
}

/** "rank 251 of 3072 (exact, 288 Jᵀu products at astronaut.png, label 0)": what every surface prints. */
export function formatJacobianRank(rank: JacobianRankEvidence): string {
  return `rank ${describeJacobianRank(rank)} (${rank.method}, ${rank.columns} Jᵀu products at ${rank.image}, label ${rank.label})`;
}

/** "conv_1 27, dense_1 at least 128": the rank of J restricted to each layer's parameter block. */
export function formatLayerRanks(rank: JacobianRankEvidence): string {
  return rank.layers.map((l) => `${l.name} ${l.method === 'lower-bound' ? 'at least ' : ''}${l.rank}`).join(', ') || 'none';
}
