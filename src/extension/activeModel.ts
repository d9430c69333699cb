// Which model the user is looking at: a model.json in a text editor, a layer document, an .onnx in the Layer View (a
// tab, not a text editor), or a model in a Layer View panel. Commands without an argument and the status bar use it.
import * as vscode from 'vscode';
import { LAYER_DOCUMENT_SCHEME, modelOfLayerDocument } from './layerDocument';
import type { ModelAnalyses } from './modelAnalyses';
import { READ_ONLY_SCHEME } from './readOnlyDocuments';

/** The Layer View panels' side of it (they are webview tabs, which the tab API does not name a file for). */
export interface ActiveLayerView {
  activeModel(): vscode.Uri | undefined;
}

export function activeModelUri(analyses: ModelAnalyses, layerViews?: ActiveLayerView): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  // A webview tab (Layer View panel, Markdown preview) is active: the text editor behind it is not what the user sees.
  const panelModel = layerViews?.activeModel();
  if (panelModel) return panelModel;
  if (input instanceof vscode.TabInputCustom && isModelPath(input.uri)) return input.uri;
  const editorUri = vscode.window.activeTextEditor?.document.uri;
  if (editorUri?.scheme === LAYER_DOCUMENT_SCHEME) return modelOfLayerDocument(editorUri);
  if (editorUri?.scheme === READ_ONLY_SCHEME) return modelOfReadOnlyDocument(editorUri);
  if (editorUri && (analyses.get(editorUri) || isModelPath(editorUri))) return editorUri;
  if (input instanceof vscode.TabInputText && (isModelPath(input.uri) || analyses.get(input.uri))) return input.uri;
  return undefined;
}

function modelOfReadOnlyDocument(uri: vscode.Uri): vscode.Uri | undefined {
  try {
    const model = (JSON.parse(uri.query) as { model?: unknown }).model;
    return typeof model === 'string' ? vscode.Uri.parse(model) : undefined;
  } catch {
    return undefined;
  }
}

function isModelPath(uri: vscode.Uri): boolean {
  const lower = uri.path.toLowerCase();
  return uri.scheme === 'file' && (lower.endsWith('.onnx') || lower.endsWith('model.json'));
}
