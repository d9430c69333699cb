// The extension's configuration: the workspace folder's leaklint.config.json (the CLI's file), with the leaklint.*
// settings the user set on top. Both are the same keys, validated by the engine's parseConfig, so that the CLI run in
// that folder and the extension give the same findings.
import * as path from 'path';
import * as vscode from 'vscode';
import { ATTACK_KEYS, CONFIG_FILE_NAME, isAtLeast, parseConfig, readConfigValue, type LeakLintConfig, type Severity } from '../engine';
import { SETTING_KEYS } from '../shared/commands';
import { workspaceFileAccess } from './workspaceFileAccess';

/** The folder a model's settings and relative paths belong to. */
export function baseFolderOf(file: vscode.Uri): string {
  return vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? path.dirname(file.fsPath);
}

/** Throws ConfigError on an invalid config file or invalid settings (shown to the user as is). */
export async function configFor(file: vscode.Uri): Promise<LeakLintConfig> {
  const folder = baseFolderOf(file);
  const configFile = path.join(folder, CONFIG_FILE_NAME);
  const exists = await workspaceFileAccess.stat(configFile).then(
    () => true,
    () => false,
  );
  const fromFile = exists ? await readConfigValue(workspaceFileAccess, configFile) : {};
  const settings = vscode.workspace.getConfiguration('leaklint', file);
  const value: Record<string, unknown> = typeof fromFile === 'object' && fromFile !== null && !Array.isArray(fromFile) ? { ...fromFile } : {};
  for (const key of SETTING_KEYS) {
    if (key === 'attack') continue;
    const set = explicitValue(settings.inspect(key));
    if (set !== undefined) value[key] = set;
  }
  const attack: Record<string, unknown> = typeof value.attack === 'object' && value.attack !== null ? { ...(value.attack as object) } : {};
  for (const key of ATTACK_KEYS) {
    const set = explicitValue(settings.inspect(`attack.${key}`));
    if (set !== undefined) attack[key] = set;
  }
  if (Object.keys(attack).length) value.attack = attack;
  return parseConfig(value, exists ? `${configFile} and settings` : 'settings', folder);
}

/** A setting's value where the user set it (folder, workspace or user settings); null means "not set". */
function explicitValue<T>(inspected: { workspaceFolderValue?: T; workspaceValue?: T; globalValue?: T } | undefined): T | undefined {
  const value = inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  return value === null ? undefined : value;
}

/**
 * Findings at or above `failOn` are errors (they would fail the CLI run); below it, high and medium are warnings and
 * low is information.
 */
export function diagnosticSeverity(severity: Severity, config: LeakLintConfig): vscode.DiagnosticSeverity {
  if (config.failOn !== 'none' && isAtLeast(severity, config.failOn)) return vscode.DiagnosticSeverity.Error;
  return severity === 'low' ? vscode.DiagnosticSeverity.Information : vscode.DiagnosticSeverity.Warning;
}
