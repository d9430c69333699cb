// Which model the user is looking at: a model.json in a text editor, a layer document, or an .onnx in the custom
// editor (a tab, not a text editor). Commands without an argument and the status bar use it.
import * as vscode from 'vscode';
import { LAYER_DOCUMENT_SCHEME, modelOfLayerDocument } from './layerDocument';
import type { ModelAnalyses } from './modelAnalyses';

export function activeModelUri(analyses: ModelAnalyses): vscode.Uri | undefined {
  const editorUri = vscode.window.activeTextEditor?.document.uri;
  if (editorUri?.scheme === LAYER_DOCUMENT_SCHEME) return modelOfLayerDocument(editorUri);
  if (editorUri && (analyses.get(editorUri) || editorUri.path.toLowerCase().endsWith('.onnx'))) return editorUri;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) {
    if (input.uri.path.toLowerCase().endsWith('.onnx') || analyses.get(input.uri)) return input.uri;
  }
  return editorUri && isModelPath(editorUri) ? editorUri : undefined;
}

function isModelPath(uri: vscode.Uri): boolean {
  const lower = uri.path.toLowerCase();
  return uri.scheme === 'file' && (lower.endsWith('.onnx') || lower.endsWith('model.json'));
}
