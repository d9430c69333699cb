// One entry point for every report format, shared by the CLI and the extension's "export report" command.
import type { ReportInput } from './input';
import { writeHtml } from './html';
import { writeJson } from './json';
import { writeMarkdown } from './markdown';
import { writeSarif } from './sarif';
import { writeTable } from './table';

export type ReportFormat = 'table' | 'json' | 'sarif' | 'markdown' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'sarif', 'markdown', 'html'];

/** File extension used when a report is written into a folder. */
export const REPORT_EXTENSIONS: Record<ReportFormat, string> = { table: 'txt', json: 'json', sarif: 'sarif', markdown: 'md', html: 'html' };

export interface FormatOptions {
  /** Recorded in the JSON report; omit for deterministic output. */
  generatedAt?: Date;
}

export function formatReport(format: ReportFormat, input: ReportInput, options: FormatOptions = {}): string {
  switch (format) {
    case 'json':
      return writeJson(input, { generatedAt: options.generatedAt });
    case 'sarif':
      return writeSarif(input);
    case 'markdown':
      return writeMarkdown(input);
    case 'table':
      return writeTable(input);
    case 'html':
      return writeHtml(input);
  }
}

export type { ReadFailure, ReportInput, ToolInfo } from './input';
export { collectIssues, failsOn, type Issue } from './issues';
