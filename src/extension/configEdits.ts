// The two settings code actions and the LeakLint view write: "ignore this model" and "turn this rule off". They go
// where the value comes from, so that the change takes effect: the leaklint.* setting when the user has set it (it
// overrides the file), else the folder's configuration file when there is one (leaklint.config.json, or the file
// leaklint.configFile names; the CLI then agrees), else the workspace folder's setting. The config file is edited in place (jsonc-parser), keeping its formatting.
import * as path from 'path';
import * as vscode from 'vscode';
import { applyEdits, modify, parse, type JSONPath } from 'jsonc-parser';
import { configFileOf } from './settings';

export interface ConfigEdit {
  /** Where the change was written: a settings scope, or the config file. */
  target: 'setting' | vscode.Uri;
  description: string;
}

function folderOf(model: vscode.Uri): vscode.WorkspaceFolder {
  const folder = vscode.workspace.getWorkspaceFolder(model);
  if (!folder) throw new Error(`${model.fsPath} is not in a workspace folder`);
  return folder;
}

function isSet(inspected: { workspaceFolderValue?: unknown; workspaceValue?: unknown; globalValue?: unknown } | undefined): boolean {
  const value = inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  return value !== undefined && value !== null;
}

/** The configuration file of the model's folder, if there is one (an invalid leaklint.configFile throws ConfigError). */
async function configFileUri(model: vscode.Uri): Promise<vscode.Uri | undefined> {
  const file = await configFileOf(model);
  return file !== undefined ? vscode.Uri.file(file) : undefined;
}

async function editConfigFile(file: vscode.Uri, edit: (text: string) => string): Promise<void> {
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
  await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(edit(text)));
}

function setJson(text: string, jsonPath: JSONPath, value: unknown): string {
  const edits = modify(text, jsonPath, value, { formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' } });
  return applyEdits(text, edits);
}

/** Adds the model (its path relative to the workspace folder) to the ignore globs. */
export async function ignoreModel(model: vscode.Uri): Promise<ConfigEdit> {
  const folder = folderOf(model);
  const entry = path.relative(folder.uri.fsPath, model.fsPath).split(path.sep).join('/');
  const settings = vscode.workspace.getConfiguration('leaklint', model);
  const file = await configFileUri(model);
  if (file && !isSet(settings.inspect('ignore'))) {
    // The file's globs are relative to its own folder.
    const fileEntry = path.relative(path.dirname(file.fsPath), model.fsPath).split(path.sep).join('/');
    await editConfigFile(file, (text) => {
      const current = (parse(text) as { ignore?: unknown } | undefined)?.ignore;
      const list = Array.isArray(current) ? current : [];
      return list.includes(fileEntry) ? text : setJson(text, ['ignore', list.length], fileEntry);
    });
    return { target: file, description: `added "${fileEntry}" to ignore in ${path.basename(file.fsPath)}` };
  }
  const current = settings.get<string[]>('ignore') ?? [];
  if (!current.includes(entry)) await settings.update('ignore', [...current, entry], vscode.ConfigurationTarget.WorkspaceFolder);
  return { target: 'setting', description: `added "${entry}" to the leaklint.ignore setting of ${folder.name}` };
}

/** Sets the rule to "off" for the model's workspace folder. */
export async function disableRule(ruleId: string, model: vscode.Uri): Promise<ConfigEdit> {
  const folder = folderOf(model);
  const settings = vscode.workspace.getConfiguration('leaklint', model);
  const file = await configFileUri(model);
  if (file && !isSet(settings.inspect('rules'))) {
    await editConfigFile(file, (text) => setJson(text, ['rules', ruleId], 'off'));
    return { target: file, description: `set ${ruleId} to "off" in ${path.basename(file.fsPath)}` };
  }
  const current = settings.get<Record<string, string>>('rules') ?? {};
  await settings.update('rules', { ...current, [ruleId]: 'off' }, vscode.ConfigurationTarget.WorkspaceFolder);
  return { target: 'setting', description: `set ${ruleId} to "off" in the leaklint.rules setting of ${folder.name}` };
}
