// The VS Code adapter: thin over the engine. Reading and analysing models happen in the background worker (a
// hostile file can make them slow or memory-hungry); the host only maps results to diagnostics. Everything here is
// static analysis in JavaScript, so it also runs in an untrusted workspace.
import * as path from 'path';
import * as vscode from 'vscode';
import { isModelFile } from '../engine/readers';
import { createIgnoreMatcher, effectiveSeverity, parseConfig, type LeakLintConfig } from '../engine/config';
import type { ModelReport, LayerFinding } from '../engine/analysis/types';
import { WorkerClient, WorkerError } from './workerClient';

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
        const baseDir = vscode.workspace.getWorkspaceFolder(target)?.uri.fsPath ?? path.dirname(target.fsPath);
        const text = await worker!.layers({ file: target.fsPath, read: {}, baseDir });
        const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
        await vscode.window.showTextDocument(doc, { preview: true });
      } catch (e) {
        vscode.window.showErrorMessage(`LeakLint: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
    vscode.commands.registerCommand('leaklint.auditWorkspace', async () => {
      // Static analysis only (pure JavaScript in the worker), so it also runs in an untrusted workspace.
      const candidates = (await vscode.workspace.findFiles('**/*.{onnx,json}', '**/node_modules/**')).filter((f) => isModelFile(f.fsPath));
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'LeakLint audit', cancellable: true },
        async (progress, token) => {
          // Settings are per workspace folder: parse them and build the ignore matcher once per folder and run.
          const folderSettings = new Map<string, { config: LeakLintConfig; isIgnored: (file: string) => boolean }>();
          for (const [i, file] of candidates.entries()) {
            if (token.isCancellationRequested) break;
            const folderKey = vscode.workspace.getWorkspaceFolder(file)?.uri.toString() ?? path.dirname(file.fsPath);
            let settings = folderSettings.get(folderKey);
            if (!settings) {
              try {
                const config = settingsFor(file);
                settings = { config, isIgnored: createIgnoreMatcher(config.ignore, config.baseDir) };
              } catch (e) {
                return vscode.window.showErrorMessage(`LeakLint settings: ${e instanceof Error ? e.message : String(e)}`);
              }
              folderSettings.set(folderKey, settings);
            }
            const { config, isIgnored } = settings;
            if (isIgnored(file.fsPath)) continue;
            progress.report({ message: `${path.basename(file.fsPath)} (${i + 1}/${candidates.length})` });
            try {
              const request = { file: file.fsPath, read: { inputShape: config.inputShape }, analysis: { thresholds: config.thresholds } };
              const report = await worker!.analyze(request, undefined, token);
              diagnostics.set(file, await toDiagnostics(file, report, config));
              output.appendLine(`${file.fsPath}: model risk ${report.model.risk.toFixed(2)} (${report.model.severity}), COPA ${report.model.copaIndex}`);
            } catch (e) {
              const message = e instanceof Error ? e.message : String(e);
              output.appendLine(`${file.fsPath}: ${message}`);
              // A model that cannot be read is a finding about that file, shown where people look.
              if (e instanceof WorkerError && e.code !== 'internal') {
                const unreadable = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 0), message, vscode.DiagnosticSeverity.Error);
                unreadable.source = 'leaklint';
                unreadable.code = e.code;
                diagnostics.set(file, [unreadable]);
              }
            }
          }
        },
      );
    }),
  );
}

/** The same keys as leaklint.config.json, read from the settings of the file's workspace folder. */
function settingsFor(file: vscode.Uri): LeakLintConfig {
  const settings = vscode.workspace.getConfiguration('leaklint', file);
  const folder = vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? path.dirname(file.fsPath);
  const value = Object.fromEntries(
    (['failOn', 'thresholds', 'ignore', 'rules', 'inputShape'] as const)
      .map((key) => [key, settings.get(key)])
      .filter(([, v]) => v !== undefined && v !== null),
  );
  return parseConfig(value, 'settings', folder);
}

async function toDiagnostics(file: vscode.Uri, report: ModelReport, config: LeakLintConfig): Promise<vscode.Diagnostic[]> {
  const text = file.fsPath.endsWith('.json') ? await vscode.workspace.openTextDocument(file) : undefined;
  const rangeOf = (f: LayerFinding) =>
    text && f.location.format === 'json'
      ? new vscode.Range(text.positionAt(f.location.offset), text.positionAt(f.location.offset + f.location.length))
      : new vscode.Range(0, 0, 0, 0);
  const level = { high: vscode.DiagnosticSeverity.Error, medium: vscode.DiagnosticSeverity.Warning, low: vscode.DiagnosticSeverity.Information };
  const result: vscode.Diagnostic[] = [];
  for (const f of report.layers) {
    const severity = effectiveSeverity(f.ruleId, f.severity, config.rules);
    if (severity === 'off') continue;
    const d = new vscode.Diagnostic(rangeOf(f), `${f.name}: ${f.reason}`, level[severity]);
    d.source = 'leaklint';
    d.code = f.ruleId;
    result.push(d);
  }
  return result;
}

export function deactivate() {
  worker?.stop();
}
