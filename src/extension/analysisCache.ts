// The last analysis of every model, kept in the extension's storage (workspace storage, else global storage) so that
// a reload shows the findings at once and only models that changed are analysed again.
// An entry holds the outcome and the fingerprints of the files the worker read for it (the model, its shards, its
// external data: size, modification time, SHA-256), under a key made of the settings that change an analysis, the
// configuration file they came from, the trust level and the engine's version. It is valid when the key matches and
// every input has the same size and modification time (a stat each, through workspace.fs: the host reads no model). When only the times differ
// (a checkout, a copy), the worker hashes the files again and the entry holds if the bytes are the same.
// Entries are serialized with v8 (structured clone, like the worker's messages): reports keep Infinity and NaN.
import { createHash } from 'crypto';
import * as v8 from 'v8';
import * as vscode from 'vscode';
import { TOOL, type AuditOutcome, type LeakLintConfig } from '../engine';
import type { FileFingerprint } from '../shared/workerProtocol';

/** Bump when the entry layout changes: older entries are then ignored (and overwritten). */
const CACHE_SCHEMA = 1;

export interface CachedAnalysis {
  schema: number;
  /** The model's URI, as a string. */
  model: string;
  key: string;
  inputs: FileFingerprint[];
  outcome: AuditOutcome;
}

/**
 * What an analysis depends on besides the files: the settings the engine reads, the configuration file they came
 * from (leaklint.configFile as set, else null: the folder's leaklint.config.json), the trust level, the engine.
 */
export function analysisKey(config: LeakLintConfig, trusted: boolean, configFile: string | undefined): string {
  const relevant = {
    tool: TOOL.version,
    schema: CACHE_SCHEMA,
    trusted,
    configFile: configFile ?? null,
    thresholds: config.thresholds ?? null,
    inputShape: config.inputShape ?? null,
    surrogateWeights: config.surrogateWeights ?? false,
    fixes: config.fixes ?? true,
    quick: config.quick ?? false,
  };
  return createHash('sha256').update(stableJson(relevant)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** True when every input still has the size and modification time it was analysed with (or is still missing). */
export async function inputsUnchanged(inputs: readonly FileFingerprint[]): Promise<boolean> {
  if (!inputs.length) return false;
  const checks = inputs.map(async (input) => {
    const stat = await vscode.workspace.fs.stat(vscode.Uri.file(input.file)).then(
      (s) => s,
      () => undefined,
    );
    if ('missing' in input) return stat === undefined;
    return stat !== undefined && stat.size === input.size && stat.mtime === input.mtime;
  });
  return (await Promise.all(checks)).every(Boolean);
}

/** Same files with the same bytes (times aside). */
export function sameContent(a: readonly FileFingerprint[], b: readonly FileFingerprint[]): boolean {
  if (!a.length || a.length !== b.length) return false;
  const hashOf = (f: FileFingerprint) => ('missing' in f ? 'missing' : f.sha256);
  const byFile = new Map(b.map((f) => [f.file, hashOf(f)]));
  return a.every((f) => byFile.get(f.file) === hashOf(f));
}

/** The files' content identity ("file:sha256", not the modification time); empty when any of them is missing. */
export function contentKeysOf(inputs: readonly FileFingerprint[]): string[] {
  const keys: string[] = [];
  for (const f of inputs) {
    if ('missing' in f) return [];
    keys.push(`${f.file}:${f.sha256}`);
  }
  return keys;
}

export class AnalysisCache {
  private readonly folder: vscode.Uri;

  constructor(
    storageRoot: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.folder = vscode.Uri.joinPath(storageRoot, 'analyses');
  }

  private entryUri(model: vscode.Uri): vscode.Uri {
    return vscode.Uri.joinPath(this.folder, `${createHash('sha256').update(model.toString()).digest('hex').slice(0, 32)}.v8`);
  }

  async load(model: vscode.Uri): Promise<CachedAnalysis | undefined> {
    return this.read(this.entryUri(model));
  }

  /** Every stored entry (for the restore on activation). */
  async loadAll(): Promise<CachedAnalysis[]> {
    const names = await vscode.workspace.fs.readDirectory(this.folder).then(
      (entries) => entries.filter(([name, type]) => type === vscode.FileType.File && name.endsWith('.v8')).map(([name]) => name),
      () => [] as string[],
    );
    const entries = await Promise.all(names.map((name) => this.read(vscode.Uri.joinPath(this.folder, name))));
    return entries.filter((e): e is CachedAnalysis => e !== undefined);
  }

  async save(model: vscode.Uri, entry: Omit<CachedAnalysis, 'schema' | 'model'>): Promise<void> {
    const data: CachedAnalysis = { schema: CACHE_SCHEMA, model: model.toString(), ...entry };
    try {
      await vscode.workspace.fs.createDirectory(this.folder);
      await vscode.workspace.fs.writeFile(this.entryUri(model), v8.serialize(data));
    } catch (e) {
      this.log.warn(`could not cache the analysis of ${model.fsPath}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async delete(model: vscode.Uri): Promise<void> {
    await vscode.workspace.fs.delete(this.entryUri(model), { useTrash: false }).then(undefined, () => undefined);
  }

  private async read(uri: vscode.Uri): Promise<CachedAnalysis | undefined> {
    try {
      const entry = v8.deserialize(await vscode.workspace.fs.readFile(uri)) as CachedAnalysis;
      return entry?.schema === CACHE_SCHEMA && typeof entry.model === 'string' && Array.isArray(entry.inputs) ? entry : undefined;
    } catch {
      return undefined; // absent, or written by another version: analysed again
    }
  }
}
