// Code actions (Ctrl+.) on every LeakLint diagnostic, in model.json and in an ONNX model's layer document: open the layer in the Layer View, explain the finding, show the reconstruction, ignore the model, turn the
// rule off, and, for each fix the engine proved, show the proposed change with its predicted metric. The LeakLint view
// offers the same commands in its context menu.
import * as path from 'path';
import * as vscode from 'vscode';
import { formatRisk, layerLabel, type LayerFinding } from '../engine';
import { Commands } from '../shared/commands';
import { DIAGNOSTIC_SOURCE } from './diagnostics';
import { LAYER_DOCUMENT_SCHEME, layerAtLine, modelOfLayerDocument } from './layerDocument';
import { layerAt, RESTRICTED_ATTACK_REASON } from './layerInsights';
import type { ModelAnalyses } from './modelAnalyses';

/** Where code actions apply: model.json files and layer documents (where every ONNX diagnostic is). */
export const CODE_ACTION_SELECTOR: vscode.DocumentFilter[] = [{ scheme: 'file', pattern: '**/*.json' }, { scheme: LAYER_DOCUMENT_SCHEME }];

/** The model, layer and rule a diagnostic is about. */
export interface FindingTarget {
  model: vscode.Uri;
  finding?: LayerFinding;
  /** Rule id; undefined for a read failure. */
  ruleId?: string;
}

function ruleOf(diagnostic: vscode.Diagnostic): string | undefined {
  const code = typeof diagnostic.code === 'object' ? diagnostic.code.value : diagnostic.code;
  // Rule findings carry a docs link; read failures carry the bare error code.
  return typeof diagnostic.code === 'object' && typeof code === 'string' ? code : undefined;
}

export function targetOf(analyses: ModelAnalyses, document: vscode.TextDocument, diagnostic: vscode.Diagnostic): FindingTarget | undefined {
  if (diagnostic.source !== DIAGNOSTIC_SOURCE) return undefined;
  const inLayerDocument = document.uri.scheme === LAYER_DOCUMENT_SCHEME;
  const model = inLayerDocument ? modelOfLayerDocument(document.uri) : document.uri;
  const analysis = analyses.get(model);
  if (!analysis) return undefined;
  const ruleId = ruleOf(diagnostic);
  if (analysis.kind !== 'report' || !ruleId || ruleId === 'LL010') return { model, ruleId };
  const finding = inLayerDocument ? layerAtLine(analysis.report, diagnostic.range.start.line) : layerAt(analyses, document, diagnostic.range.start)?.finding;
  return { model, finding, ruleId };
}

/** The actions for one finding, in menu order (also what the LeakLint view's context menu offers). */
export function actionsFor(target: FindingTarget, ignoreWhere: string): vscode.CodeAction[] {
  const { model, finding, ruleId } = target;
  const modelName = path.basename(model.fsPath);
  const node = finding?.nodeId;
  const subject = finding ? layerLabel(finding) : modelName;
  const action = (title: string, command: string, args: unknown[]) => {
    const a = new vscode.CodeAction(title, vscode.CodeActionKind.QuickFix);
    a.command = { title, command, arguments: args };
    return a;
  };
  const actions = [action(`LeakLint: open ${subject} in the Layer View`, Commands.openInLayerView, [model, node])];
  if (ruleId) actions.push(action(`LeakLint: explain ${ruleId} on ${subject}`, Commands.explainLayer, [model, node]));
  if (ruleId) {
    const attack = action(`LeakLint: show the reconstruction from ${modelName}'s gradients`, Commands.showReconstructions, [model]);
    if (!vscode.workspace.isTrusted) attack.disabled = { reason: RESTRICTED_ATTACK_REASON };
    actions.push(attack);
  }
  for (const [i, fix] of (finding?.fixes ?? []).entries()) {
    actions.push(
      action(
        `LeakLint: show the proposed change: ${fix.title} (closed-form risk ${formatRisk(fix.before.modelRisk)} → ${formatRisk(fix.after.modelRisk)})`,
        Commands.showProposedChange,
        [model, node, i],
      ),
    );
  }
  actions.push(action(`LeakLint: ignore ${modelName} (${ignoreWhere})`, Commands.ignoreModel, [model]));
  if (ruleId) actions.push(action(`LeakLint: turn ${ruleId} off for this workspace`, Commands.disableRule, [ruleId, model]));
  return actions;
}

/** Where "ignore" will write, for its title. */
export async function ignoreTarget(model: vscode.Uri): Promise<string> {
  const folder = vscode.workspace.getWorkspaceFolder(model);
  const inspected = vscode.workspace.getConfiguration('leaklint', model).inspect('ignore');
  const set = (inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue) != null;
  if (!folder || set) return 'leaklint.ignore';
  const hasFile = await vscode.workspace.fs.stat(vscode.Uri.joinPath(folder.uri, 'leaklint.config.json')).then(
    () => true,
    () => false,
  );
  return hasFile ? 'leaklint.config.json' : 'leaklint.ignore';
}

export class LeakLintCodeActionProvider implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] };

  constructor(private readonly analyses: ModelAnalyses) {}

  async provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[]> {
    const actions: vscode.CodeAction[] = [];
    const seen = new Set<string>();
    for (const diagnostic of context.diagnostics) {
      const target = targetOf(this.analyses, document, diagnostic);
      if (!target) continue;
      for (const action of actionsFor(target, await ignoreTarget(target.model))) {
        if (seen.has(action.title)) continue; // overlapping diagnostics: one "ignore this model"
        seen.add(action.title);
        action.diagnostics = [diagnostic];
        actions.push(action);
      }
    }
    return actions;
  }
}
