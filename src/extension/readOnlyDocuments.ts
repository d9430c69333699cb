// Read-only documents the extension writes (scheme `leaklint-doc:`): a finding explained, a proposed change with its
// predicted metrics, and the reader's layer listing. They are virtual: nothing to save, nothing left behind by a
// reload (unlike an Untitled buffer). Markdown ones open in the Markdown preview.
import * as path from 'path';
import * as vscode from 'vscode';
import {
  describeFixEffect,
  escapeMarkdown,
  formatIndices,
  formatNumber,
  formatRisk,
  formatVerdict,
  getRule,
  layerLabel,
  SEVERITIES,
  writeLayersTable,
  type Fix,
  type LayerFinding,
  type ModelReport,
} from '../engine';
import { layerMarkdown, verdictMarkdown } from './layerInsights';
import { failureMessage, type ModelAnalyses } from './modelAnalyses';
import type { RuntimeClient } from './runtime';
import { configFor } from './settings';

export const READ_ONLY_SCHEME = 'leaklint-doc';

/** What a read-only document shows: encoded in its URI, so that a restored tab shows it again. */
export type DocumentRequest =
  { kind: 'explain'; model: string; node?: string } | { kind: 'fix'; model: string; node: string; fix: number } | { kind: 'layers'; model: string };

export function readOnlyDocumentUri(request: DocumentRequest): vscode.Uri {
  const model = path.basename(vscode.Uri.parse(request.model).fsPath);
  const safe = (name: string) => name.replace(/[\\/]/g, '_');
  const title =
    request.kind === 'explain'
      ? `${request.node ? `${safe(request.node)} in ` : ''}${model}, explained.md`
      : request.kind === 'fix'
        ? `${safe(request.node)} in ${model}, proposed change ${request.fix + 1}.md`
        : `${model}, layers as read.txt`;
  return vscode.Uri.from({ scheme: READ_ONLY_SCHEME, path: `/${title}`, query: JSON.stringify(request) });
}

function requestOf(uri: vscode.Uri): DocumentRequest | undefined {
  try {
    const request = JSON.parse(uri.query) as DocumentRequest;
    return typeof request?.model === 'string' ? request : undefined;
  } catch {
    return undefined;
  }
}

/** Opens a read-only document: Markdown in the preview, text in a preview editor. Returns the document. */
export async function showReadOnlyDocument(request: DocumentRequest): Promise<vscode.TextDocument> {
  const uri = readOnlyDocumentUri(request);
  const document = await vscode.workspace.openTextDocument(uri);
  if (uri.path.endsWith('.md')) {
    await vscode.commands.executeCommand('markdown.showPreview', uri).then(undefined, () => vscode.window.showTextDocument(document, { preview: true }));
  } else {
    await vscode.window.showTextDocument(document, { preview: true });
  }
  return document;
}

export class ReadOnlyDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly analyses: ModelAnalyses,
    private readonly runtime: RuntimeClient,
  ) {
    // Explanations follow their model's analysis; the layer listing is what the reader saw when it was asked.
    this.subscription = analyses.onDidChange((model) => {
      for (const document of vscode.workspace.textDocuments) {
        const request = document.uri.scheme === READ_ONLY_SCHEME ? requestOf(document.uri) : undefined;
        if (request && request.kind !== 'layers' && request.model === model.toString()) this.changed.fire(document.uri);
      }
    });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const request = requestOf(uri);
    if (!request) return 'This LeakLint document has no content.\n';
    const model = vscode.Uri.parse(request.model);
    if (request.kind === 'layers') return this.layersListing(model);
    const analysis = this.analyses.get(model) ?? (await this.analyses.analyse(model).catch(() => undefined));
    if (!analysis) return `${model.fsPath} is not analysed (it is ignored, or its analysis was cancelled).\n`;
    if (analysis.kind === 'failed')
      return `# ${path.basename(model.fsPath)}\n\nLeakLint could not read this model (${analysis.failure.code}): ${escapeMarkdown(failureMessage(analysis.failure))}\n`;
    const { report } = analysis;
    if (request.kind === 'explain' && !request.node) return modelExplanation(report);
    const finding = report.layers.find((f) => f.nodeId === request.node);
    if (!finding) return `No layer ${request.node} in the latest analysis of ${model.fsPath}.\n`;
    if (request.kind === 'explain')
      return `# ${escapeMarkdown(layerLabel(finding))} in ${path.basename(model.fsPath)}\n\n${layerMarkdown(model, report, finding, false)}\n`;
    const fix = finding.fixes[request.fix];
    return fix ? fixDocument(model, report, finding, fix) : `The latest analysis proposes no change ${request.fix + 1} for ${layerLabel(finding)}.\n`;
  }

  /** The reader's view of the model, before any analysis (the same text as `leaklint layers`). */
  private async layersListing(model: vscode.Uri): Promise<string> {
    try {
      const config = await configFor(model);
      const outcome = await this.runtime.layers({ file: model.fsPath, config, trusted: vscode.workspace.isTrusted });
      return outcome.kind === 'layers'
        ? writeLayersTable(outcome.listing, config.baseDir)
        : `LeakLint could not read ${model.fsPath} (${outcome.failure.code}): ${failureMessage(outcome.failure)}\n`;
    } catch (e) {
      return `LeakLint could not list the layers of ${model.fsPath}: ${e instanceof Error ? e.message : String(e)}\n`;
    }
  }

  dispose() {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** The model-level finding (LL010) explained: the verdict, the riskiest layers, the rule. */
function modelExplanation(report: ModelReport): string {
  const m = report.model;
  const rule = getRule('LL010');
  const riskiest = [...report.layers].sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || b.risk - a.risk).slice(0, 8);
  const lines = [
    `# ${path.basename(report.file)}: ${formatVerdict(m)}`,
    '',
    verdictMarkdown(report),
    '',
    `COPA ${formatIndices(m).copa}, RA-i ${formatIndices(m).raCount}, first deficient layer: ${m.firstDeficientLayer ? escapeMarkdown(m.firstDeficientLayer) : 'none'}.`,
    '',
    '| layer | op | risk | status | rule |',
    '| --- | --- | ---: | --- | --- |',
    ...riskiest.map(
      (f) => `| ${escapeMarkdown(layerLabel(f))} | ${escapeMarkdown(f.description)} | ${formatRisk(f.risk)} ${f.severity} | ${f.status} | ${f.ruleId} |`,
    ),
  ];
  if (rule) lines.push('', `**${rule.id} ${rule.name}.** ${rule.fullDescription}`, '', `**What to do.** ${rule.help}`);
  return lines.join('\n') + '\n';
}

/** A fix the engine proved: what changes, and the metrics it predicts by re-analysing the changed model. */
function fixDocument(model: vscode.Uri, report: ModelReport, finding: LayerFinding, fix: Fix): string {
  const count = (value: number | null) => formatNumber(value, 0);
  const rows: [string, string, string][] = [
    ['layer deficiency', count(fix.before.layerDeficiency), count(fix.after.layerDeficiency)],
    ['layer risk', formatRisk(fix.before.layerRisk), formatRisk(fix.after.layerRisk)],
    ['closed-form risk of the model', formatRisk(fix.before.modelRisk), formatRisk(fix.after.modelRisk)],
    ['COPA index', count(fix.before.copa), count(fix.after.copa)],
  ];
  const change = Object.entries(fix.change)
    .map(([key, value]) => `\`${key}: ${JSON.stringify(value)}\``)
    .join(', ');
  return [
    `# Proposed change: ${escapeMarkdown(fix.title)}`,
    '',
    `In ${escapeMarkdown(path.basename(model.fsPath))}, layer **${escapeMarkdown(layerLabel(finding))}** (${escapeMarkdown(finding.description)}): ${change}.`,
    '',
    '| predicted by re-analysing the changed model | now | with the change |',
    '| --- | ---: | ---: |',
    ...rows.map(([label, before, after]) => `| ${label} | ${before} | ${after} |`),
    '',
    `In one line: ${describeFixEffect(fix, '→')}.`,
    '',
    'The changed layer was analysed with Gaussian surrogate weights (the file has none for it): retrain the model after the change. ' +
      'LeakLint does not edit the model.',
    '',
    'The prediction is for the closed-form attack (the linear systems from the output back to the image). Gradient matching ' +
      'is not stopped by pooling or by an under-determined layer: audit the changed model (its Jacobian rank, an attack) ' +
      'before calling it safe.',
  ].join('\n');
}
