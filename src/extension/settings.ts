// The extension's settings: the same keys as leaklint.config.json, read per workspace folder, so that the CLI
// with that config and the extension give the same findings.
import * as path from 'path';
import * as vscode from 'vscode';
import { parseConfig, type LeakLintConfig } from '../engine/config';
import { isAtLeast } from '../engine/analysis/rules';
import type { Severity } from '../engine/analysis/types';

const CONFIG_KEYS = ['failOn', 'thresholds', 'ignore', 'rules', 'inputShape'] as const;

/** Throws ConfigError on invalid settings (shown to the user as is). */
export function settingsFor(file: vscode.Uri): LeakLintConfig {
  const settings = vscode.workspace.getConfiguration('leaklint', file);
  const folder = vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? path.dirname(file.fsPath);
  const value = Object.fromEntries(CONFIG_KEYS.map((key) => [key, settings.get(key)]).filter(([, v]) => v !== undefined && v !== null));
  return parseConfig(value, 'settings', folder);
}

/**
 * Findings at or above `leaklint.failOn` are errors (they would fail the CLI run); below it, high and medium are
 * warnings and low is information.
 */
export function diagnosticSeverity(severity: Severity, config: LeakLintConfig): vscode.DiagnosticSeverity {
  if (config.failOn !== 'none' && isAtLeast(severity, config.failOn)) return vscode.DiagnosticSeverity.Error;
  return severity === 'low' ? vscode.DiagnosticSeverity.Information : vscode.DiagnosticSeverity.Warning;
}
