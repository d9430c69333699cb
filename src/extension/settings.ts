// The extension's configuration: the workspace folder's leaklint.config.json (the CLI's file), or the file the
// leaklint.configFile setting names (the CLI's --config), with the leaklint.* settings the user set on top. Both are
// the same keys, validated by the engine's parseConfig, so that the CLI run in that folder and the extension give the
// same findings. Files a setting names are resolved inside the workspace folder (the engine's containment rules).
import * as path from 'path';
import * as vscode from 'vscode';
import {
  ATTACK_KEYS,
  CONFIG_FILE_NAME,
  ConfigError,
  containedPath,
  decodeUtf8,
  displayPath,
  isAtLeast,
  parseBaseline,
  parseConfig,
  readConfigValue,
  SARIF_DEFAULT_MIN_LEVEL,
  SEVERITIES,
  type Baseline,
  type LeakLintConfig,
  type SarifOptions,
  type Severity,
} from '../engine';
import { SETTING_KEYS } from '../shared/commands';
import { workspaceFileAccess } from './workspaceFileAccess';

/** The folder a model's settings and relative paths belong to. */
export function baseFolderOf(file: vscode.Uri): string {
  return vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath ?? path.dirname(file.fsPath);
}

/** The leaklint.configFile setting as the user wrote it (workspace-relative), if set. */
export function configFileSetting(resource: vscode.Uri): string | undefined {
  const value = explicitValue(vscode.workspace.getConfiguration('leaklint', resource).inspect<string>('configFile'));
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A file a `leaklint.<setting>` names, relative to the workspace folder of `resource`, resolved inside that folder.
 * Throws ConfigError (shown to the user as is) when it is absolute, climbs out of the folder or does not exist.
 */
export async function settingFile(setting: string, relative: string, resource: vscode.Uri): Promise<string> {
  const folder = baseFolderOf(resource);
  const resolved = await containedPath(workspaceFileAccess, folder, relative, 'the workspace folder');
  if (resolved.kind !== 'inside') throw new ConfigError(`the leaklint.${setting} setting`, resolved.reason);
  return resolved.path;
}

/**
 * The configuration file that applies to `resource`: the one leaklint.configFile names (which must exist), else the
 * workspace folder's leaklint.config.json when there is one.
 */
export async function configFileOf(resource: vscode.Uri): Promise<string | undefined> {
  const configured = configFileSetting(resource);
  if (configured !== undefined) return settingFile('configFile', configured, resource);
  const standard = path.join(baseFolderOf(resource), CONFIG_FILE_NAME);
  return (await workspaceFileAccess.stat(standard).then(
    () => true,
    () => false,
  ))
    ? standard
    : undefined;
}

/** True when `uri` is the configuration file of its workspace folder (the default name, or leaklint.configFile). */
export function isConfigFile(uri: vscode.Uri): boolean {
  if (path.basename(uri.fsPath) === CONFIG_FILE_NAME) return true;
  const configured = configFileSetting(uri);
  return configured !== undefined && path.resolve(baseFolderOf(uri), configured) === uri.fsPath;
}

/** Throws ConfigError on an invalid config file or invalid settings (shown to the user as is). */
export async function configFor(file: vscode.Uri): Promise<LeakLintConfig> {
  const folder = baseFolderOf(file);
  const configFile = await configFileOf(file);
  const fromFile = configFile !== undefined ? await readConfigValue(workspaceFileAccess, configFile) : {};
  const settings = vscode.workspace.getConfiguration('leaklint', file);
  const value: Record<string, unknown> = typeof fromFile === 'object' && fromFile !== null && !Array.isArray(fromFile) ? { ...fromFile } : {};
  // Relative paths of the file are relative to its folder (as with the CLI's --config), those of settings to the
  // workspace folder: the sample folder becomes absolute here, and ignore globs are matched from where they came.
  const fileFolder = configFile !== undefined ? path.dirname(configFile) : folder;
  const fileAttack = value.attack;
  if (isObject(fileAttack) && typeof fileAttack.sampleImages === 'string' && fileAttack.sampleImages !== '') {
    value.attack = { ...fileAttack, sampleImages: path.resolve(fileFolder, fileAttack.sampleImages) };
  }
  let baseDir = fileFolder;
  for (const key of SETTING_KEYS) {
    if (key === 'attack') continue;
    const set = explicitValue(settings.inspect(key));
    if (set === undefined) continue;
    value[key] = set;
    if (key === 'ignore') baseDir = folder;
  }
  const attack: Record<string, unknown> = isObject(value.attack) ? { ...value.attack } : {};
  for (const key of ATTACK_KEYS) {
    const set = explicitValue(settings.inspect(`attack.${key}`));
    if (set !== undefined) attack[key] = key === 'sampleImages' && typeof set === 'string' && set !== '' ? path.resolve(folder, set) : set;
  }
  if (Object.keys(attack).length) value.attack = attack;
  return parseConfig(value, configFile !== undefined ? `${configFile} and settings` : 'settings', baseDir);
}

/** What Export Report adds to the report writers (the CLI's --sarif-root, --sarif-min-level and --baseline). */
export interface ExportSettings {
  sarif: SarifOptions;
  baseline?: Baseline;
}

/**
 * Export Report's settings for a workspace folder: SARIF URIs relative to the folder, the leaklint.export.sarifMinLevel
 * level, and the previous JSON report leaklint.export.baseline names (read and parsed by the engine, as `--baseline`).
 * Throws ConfigError when a setting is invalid or its file cannot be read, BaselineError when it is not a JSON report.
 */
export async function exportSettingsFor(folder: vscode.Uri): Promise<ExportSettings> {
  const settings = vscode.workspace.getConfiguration('leaklint', folder);
  const minLevel = settings.get<string>('export.sarifMinLevel') ?? SARIF_DEFAULT_MIN_LEVEL;
  if (!(SEVERITIES as readonly string[]).includes(minLevel)) {
    throw new ConfigError('the leaklint.export.sarifMinLevel setting', `must be one of ${[...SEVERITIES].reverse().join(', ')}`);
  }
  const sarif: SarifOptions = { root: folder.fsPath, minLevel: minLevel as Severity };
  const relative = explicitValue(settings.inspect<string>('export.baseline'));
  if (typeof relative !== 'string' || relative === '') return { sarif };
  const file = await settingFile('export.baseline', relative, folder);
  const source = `the leaklint.export.baseline setting (${displayPath(file, folder.fsPath)})`;
  let text: string;
  try {
    text = decodeUtf8(await workspaceFileAccess.readFile(file, MAX_BASELINE_BYTES));
  } catch (e) {
    throw new ConfigError(source, `cannot read the file: ${e instanceof Error ? e.message : String(e)}`);
  }
  // A file that is not a JSON report throws BaselineError, whose message names the setting and the file.
  return { sarif, baseline: parseBaseline(text, source, folder.fsPath) };
}

/** A JSON report of a large workspace is a few megabytes; a baseline past this is not one. */
const MAX_BASELINE_BYTES = 256 * 1024 * 1024;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
