// The VS Code adapter: thin over the engine. Parsing happens here (cheap, static); rank computations run
// in the background worker. In an untrusted workspace nothing is analysed beyond the static layer view.
import * as path from 'path';
import * as vscode from 'vscode';
import { readModel, isCandidateModelFile } from '../engine/readers';
import { isModelReadError } from '../engine/errors';
import type { ModelReport, LayerFinding } from '../engine/analysis/types';
import { WorkerClient } from './workerClient';

let worker: WorkerClient | undefined;

export function activate(context: vscode.ExtensionContext) {
  const diagnostics = vscode.languages.createDiagnosticCollection('leaklint');
  const output = vscode.window.createOutputChannel('LeakLint');
  worker = new WorkerClient(path.join(context.extensionPath, 'dist', 'worker.js'));
  context.subscriptions.push(diagnostics, output, { dispose: () => worker?.stop() });

  context.subscriptions.push(
    vscode.commands.registerCommand('leaklint.showLayers', async (uri?: vscode.Uri) => {
      const target = uri ?? vscode.window.activeTextEditor?.document.uri;
      if (!target) return vscode.window.showInformationMessage('LeakLint: open a model file first.');
      try {
        const graph = readModel(target.fsPath);
        const lines = graph.nodes.map((n) => `${n.id}\t${n.sourceOp}\t${JSON.stringify(n.inputShapes)} → ${JSON.stringify(n.outputShapes)}\t${n.status}`);
        const doc = await vscode.workspace.openTextDocument({ content: lines.join('\n'), language: 'plaintext' });
        await vscode.window.showTextDocument(doc, { preview: true });
      } catch (e) {
        vscode.window.showErrorMessage(`LeakLint: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
    vscode.commands.registerCommand('leaklint.auditWorkspace', async () => {
      if (!vscode.workspace.isTrusted) {
        return vscode.window.showWarningMessage('LeakLint: the workspace is not trusted; audits run only in trusted workspaces.');
      }
      const files = (await vscode.workspace.findFiles('**/*.{onnx,json}', '**/node_modules/**')).filter((f) => isCandidateModelFile(f.fsPath));
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'LeakLint audit', cancellable: true },
        async (progress, token) => {
          for (const [i, file] of files.entries()) {
            if (token.isCancellationRequested) break;
            progress.report({ message: `${path.basename(file.fsPath)} (${i + 1}/${files.length})` });
            try {
              const report = await worker!.analyze({ file: file.fsPath, read: {}, analysis: {} }, undefined, token);
              diagnostics.set(file, await toDiagnostics(file, report));
              output.appendLine(`${file.fsPath}: model risk ${report.model.risk.toFixed(2)} (${report.model.severity}), COPA ${report.model.copaIndex}`);
            } catch (e) {
              if (!isModelReadError(e)) output.appendLine(`${file.fsPath}: ${e instanceof Error ? e.message : String(e)}`);
            }
          }
        },
      );
    }),
  );
}

async function toDiagnostics(file: vscode.Uri, report: ModelReport): Promise<vscode.Diagnostic[]> {
  const text = file.fsPath.endsWith('.json') ? await vscode.workspace.openTextDocument(file) : undefined;
  const rangeOf = (f: LayerFinding) =>
    text && f.location.format === 'json'
      ? new vscode.Range(text.positionAt(f.location.offset), text.positionAt(f.location.offset + f.location.length))
      : new vscode.Range(0, 0, 0, 0);
  const level = { high: vscode.DiagnosticSeverity.Error, medium: vscode.DiagnosticSeverity.Warning, low: vscode.DiagnosticSeverity.Information };
  return report.layers.map((f) => {
    const d = new vscode.Diagnostic(rangeOf(f), `${f.name}: ${f.reason}`, level[f.severity]);
    d.source = 'leaklint';
    d.code = f.ruleId;
    return d;
  });
}

export function deactivate() {
  worker?.stop();
}
