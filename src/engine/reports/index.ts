// One entry point for every report format, shared by the CLI and the extension's "export report" command.
import type { ReportInput } from './input';
import { writeHtml } from './html';
import { writeJson } from './json';
import { writeMarkdown } from './markdown';
import { writeSarif, type SarifOptions } from './sarif';
import { writeTable } from './table';

export type ReportFormat = 'table' | 'json' | 'sarif' | 'markdown' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'sarif', 'markdown', 'html'];

/** File extension used when a report is written into a folder. */
export const REPORT_EXTENSIONS: Record<ReportFormat, string> = { table: 'txt', json: 'json', sarif: 'sarif', markdown: 'md', html: 'html' };

export interface FormatOptions {
  /** Recorded in the JSON report; omit for deterministic output. */
  generatedAt?: Date;
  /** Byte-identical output for the same models and settings: run timings are left out. */
  reproducible?: boolean;
  /** SARIF only: the folder URIs are relative to, and the lowest layer-finding level that becomes a result. */
  sarif?: SarifOptions;
}

/**
 * The format options of a run: now, or the time SOURCE_DATE_EPOCH names (the reproducible-builds convention: the
 * report then leaves out run timings, so that two runs over the same files give the same bytes).
 */
export function formatOptionsOf(env: Readonly<Record<string, string | undefined>>, now: Date): FormatOptions {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) return { generatedAt: new Date(Number(epoch) * 1000), reproducible: true };
  return { generatedAt: now };
}

export function formatReport(format: ReportFormat, input: ReportInput, options: FormatOptions = {}): string {
  switch (format) {
    case 'json':
      return writeJson(input, options);
    case 'sarif':
      return writeSarif(input, options.sarif);
    case 'markdown':
      return writeMarkdown(input);
    case 'table':
      return writeTable(input);
    case 'html':
      return writeHtml(input);
  }
}

export type { ReportInput, ToolInfo } from './input';
export { collectIssues, failsOn, type Issue } from './issues';
export type { SarifOptions } from './sarif';
