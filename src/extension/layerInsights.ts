// Hovers and CodeLens on analysed layers: in model.json over each layer object, and in the layer document on each
// layer's line. Both read the shared analyses; the text comes from one function, also used by "Explain".
import * as vscode from 'vscode';
import {
  describeFixEffect,
  escapeMarkdown,
  formatNumber,
  formatRanks,
  formatRisk,
  formatVerdict,
  getRule,
  layerLabel,
  type LayerFinding,
  type ModelReport,
} from '../engine';
import { Commands } from '../shared/commands';
import { toRange } from './diagnostics';
import { LAYER_DOCUMENT_SCHEME, layerAtLine, layerLine, modelOfLayerDocument } from './layerDocument';
import type { ModelAnalyses } from './modelAnalyses';

/**
 * Where hovers, CodeLens and code actions apply: JSON files (each is looked up in the analyses, as TF.js models are
 * recognised by content, not by name) and layer documents.
 */
export const LAYER_SELECTOR: vscode.DocumentFilter[] = [{ scheme: 'file', pattern: '**/*.json' }, { scheme: LAYER_DOCUMENT_SCHEME }];

/** The command that opens VS Code's workspace trust editor (Restricted Mode explains itself there). */
export const MANAGE_TRUST_COMMAND = 'workbench.trust.manage';

/** Why the attack is off, in one sentence (hover, Layer View, reconstruction view, code action). */
export const RESTRICTED_ATTACK_REASON =
  'The reconstruction attack is off in Restricted Mode: it runs native code (onnxruntime-node) and reads sample images. Trust this workspace to run it.';

function commandLink(title: string, command: string, args: unknown[] = []): string {
  return `[${title}](command:${command}?${encodeURIComponent(JSON.stringify(args))})`;
}

/** The model's verdict line under every layer explanation. */
export function verdictMarkdown(report: ModelReport): string {
  return `Model: **${escapeMarkdown(formatVerdict(report.model))}**. ${escapeMarkdown(report.model.verdict.headline)}`;
}

/** The full explanation of one layer finding, as Markdown (hover and "Explain"). */
export function layerMarkdown(model: vscode.Uri, report: ModelReport, finding: LayerFinding, withCommands: boolean): string {
  const m = finding.metrics;
  const rule = getRule(finding.ruleId);
  const lines = [
    `**${escapeMarkdown(layerLabel(finding))}** — ${escapeMarkdown(finding.description)}`,
    '',
    `Risk **${formatRisk(finding.risk)}** (${finding.severity}) · ${finding.status} · ${finding.ruleId}${rule ? ` ${rule.name}` : ''}`,
    '',
    '| unknowns | equations (gradient + forward) | rank K/W/U | deficiency | uncovered |',
    '| ---: | ---: | ---: | ---: | ---: |',
    `| ${m.nX} | ${m.nW} + ${m.nZ} | ${formatRanks(m, '-', '≤')} | ${formatNumber(m.deficiency)} | ${m.uncovered} |`,
    '',
    escapeMarkdown(finding.reason),
  ];
  if (finding.fixes.length) {
    lines.push('', '**Fixes** (predicted by re-analysing the changed model):');
    for (const fix of finding.fixes) lines.push(`- ${escapeMarkdown(fix.title)}: ${describeFixEffect(fix, '→')}`);
  }
  lines.push('', verdictMarkdown(report));
  if (withCommands) {
    const args = [model.toString(), finding.nodeId];
    const links = [commandLink('Open in Layer View', Commands.openInLayerView, args), commandLink('Explain', Commands.explainLayer, args)];
    // Restricted Mode: no attack link, but why, and where to change it.
    if (vscode.workspace.isTrusted) links.unshift(commandLink('Show reconstruction', Commands.showReconstructions, [model.toString()]));
    lines.push('', links.join(' · '));
    if (!vscode.workspace.isTrusted) lines.push('', `${RESTRICTED_ATTACK_REASON} ${commandLink('Manage Workspace Trust', MANAGE_TRUST_COMMAND)}`);
  } else if (rule) {
    lines.push('', `**${rule.id} ${rule.name}.** ${rule.fullDescription}`, '', `**What to do.** ${rule.help}`);
  }
  return lines.join('\n');
}

/** The analysed layer under a position: in model.json the innermost layer object, in the layer document its line. */
export function layerAt(analyses: ModelAnalyses, document: vscode.TextDocument, position: vscode.Position) {
  const model = document.uri.scheme === LAYER_DOCUMENT_SCHEME ? modelOfLayerDocument(document.uri) : document.uri;
  const analysis = analyses.get(model);
  if (analysis?.kind !== 'report') return undefined;
  const { report } = analysis;
  if (document.uri.scheme === LAYER_DOCUMENT_SCHEME) {
    const finding = layerAtLine(report, position.line);
    return finding && { model, report, finding, range: document.lineAt(position.line).range };
  }
  const offset = document.offsetAt(position);
  let best: LayerFinding | undefined;
  for (const f of report.layers) {
    if (f.location.format !== 'json' || offset < f.location.offset || offset > f.location.offset + f.location.length) continue;
    if (!best || (best.location.format === 'json' && f.location.length < best.location.length)) best = f;
  }
  if (!best || best.location.format !== 'json') return undefined;
  return { model, report, finding: best, range: toRange(best.location.range) };
}

export class LayerHoverProvider implements vscode.HoverProvider {
  constructor(private readonly analyses: ModelAnalyses) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const hit = layerAt(this.analyses, document, position);
    if (!hit) return undefined;
    const markdown = new vscode.MarkdownString(layerMarkdown(hit.model, hit.report, hit.finding, true));
    // Command links only to our own commands and the trust editor.
    markdown.isTrusted = { enabledCommands: [Commands.showReconstructions, Commands.explainLayer, Commands.openInLayerView, MANAGE_TRUST_COMMAND] };
    return new vscode.Hover(markdown, hit.range);
  }
}

/**
 * A CodeLens above each layer that starts on a line of its own (pretty-printed model.json, the layer document). In a
 * one-line model.json they would pile up on line 1: the hover and the LeakLint view carry the summary there instead.
 */
export class LayerCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly analyses: ModelAnalyses) {
    this.subscription = analyses.onDidChange(() => this.changed.fire());
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const inLayerDocument = document.uri.scheme === LAYER_DOCUMENT_SCHEME;
    const model = inLayerDocument ? modelOfLayerDocument(document.uri) : document.uri;
    const analysis = this.analyses.get(model);
    if (analysis?.kind !== 'report') return [];
    const starts = new Map<number, number>(); // line → layers starting on it
    const lineOf = (finding: LayerFinding): number | undefined => {
      if (inLayerDocument) return layerLine(finding);
      if (finding.location.format !== 'json') return undefined;
      const { line, character } = finding.location.range.start;
      if (line >= document.lineCount || document.lineAt(line).text.slice(0, character).trim() !== '') return undefined;
      return line;
    };
    for (const finding of analysis.report.layers) {
      const line = lineOf(finding);
      if (line !== undefined) starts.set(line, (starts.get(line) ?? 0) + 1);
    }
    return analysis.report.layers.flatMap((finding) => {
      const line = lineOf(finding);
      if (line === undefined || line >= document.lineCount || starts.get(line) !== 1) return [];
      return [
        new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
          title: `LeakLint: risk ${formatRisk(finding.risk)} ${finding.severity} · ${finding.status}`,
          command: Commands.explainLayer,
          arguments: [model.toString(), finding.nodeId],
        }),
      ];
    });
  }

  dispose() {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
