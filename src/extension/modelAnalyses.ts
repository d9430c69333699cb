// The analysed state of every model the extension has looked at: one engine outcome (a report, or a typed failure)
// per model file, produced in the background runtime by the engine's auditFile (the CLI's own use case) and shared by
// diagnostics, hovers, CodeLens, the layer document, the views and the status bar, which all listen to `onDidChange`.
// Outcomes are cached (analysisCache.ts): an analysis whose inputs and settings have not changed is not run again.
import * as vscode from 'vscode';
import { createIgnoreMatcher, formatVerdict, type AuditOutcome, type LeakLintConfig, type ModelFailure, type ModelReport } from '../engine';
import type { FileFingerprint } from '../shared/workerProtocol';
import { analysisKey, contentKeysOf, inputsUnchanged, sameContent, type AnalysisCache, type CachedAnalysis } from './analysisCache';
import { IdentifiabilityMemo, withIdentifiability } from '../runtime/identifiability';
import { RuntimeError, type RuntimeClient } from './runtime';
import { configFileSetting, configFor } from './settings';

interface Provenance {
  /** analysisKey() of the settings it was made with; undefined when it must not be reused (the worker crashed). */
  key?: string;
  /** The files it was made from; empty when they changed while they were read. */
  inputs: FileFingerprint[];
  /** Taken from the cache rather than computed in this session. */
  fromCache: boolean;
}

export type Analysis = Provenance &
  (
    | { kind: 'report'; uri: vscode.Uri; report: ModelReport; config: LeakLintConfig }
    /** The model could not be read or analysed. */
    | { kind: 'failed'; uri: vscode.Uri; failure: ModelFailure; config?: LeakLintConfig }
  );

export type ProgressListener = (done: number, total: number, label: string) => void;

export interface AnalyseOptions {
  token?: vscode.CancellationToken;
  onProgress?: ProgressListener;
  /** Analyse again even when the cache holds a valid outcome (Audit Current Model). */
  force?: boolean;
}

export interface AnalysisProgress {
  uri: vscode.Uri;
  done: number;
  total: number;
  label: string;
}

export class ModelAnalyses implements vscode.Disposable {
  private readonly results = new Map<string, Analysis>();
  /** Per model: the last analysis started, so that a newer one waits for it (the runtime works one at a time). */
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly progressed = new vscode.EventEmitter<AnalysisProgress>();
  /** Fires for every model whose outcome appeared, changed or went away. */
  readonly onDidChange = this.changed.event;
  /** Progress of the analysis the worker is running on a model (whoever asked for it). */
  readonly onDidProgress = this.progressed.event;
  private readonly busy = new Set<string>();
  /** Jacobian ranks by the bytes they were taken of: a settings change the rank does not depend on reuses them. */
  private readonly ranks = new IdentifiabilityMemo();
  /** Audits asked of the worker since activation (cache misses). */
  auditCount = 0;

  constructor(
    private readonly runtime: RuntimeClient,
    private readonly cache: AnalysisCache,
    private readonly log: vscode.LogOutputChannel,
    /** The bundled sample photos (the identifiability rank is taken at the first). */
    private readonly bundledSamples: string,
  ) {}

  get(uri: vscode.Uri): Analysis | undefined {
    return this.results.get(uri.toString());
  }

  all(): Analysis[] {
    return [...this.results.values()];
  }

  /** True while the worker analyses this model. */
  isAnalysing(uri: vscode.Uri): boolean {
    return this.busy.has(uri.toString());
  }

  /** Drops a model's outcome (deleted, or now ignored), from the cache too. */
  forget(uri: vscode.Uri) {
    void this.cache.delete(uri);
    if (this.results.delete(uri.toString())) this.changed.fire(uri);
  }

  /**
   * Applies changed `failOn` / `rules` settings without re-analysing: they only decide which findings are shown and
   * how (the engine's collectIssues and diagnosticSeverity read them from the stored config).
   */
  async refreshSettings(uri: vscode.Uri) {
    const analysis = this.get(uri);
    if (analysis?.kind !== 'report') return;
    this.results.set(uri.toString(), { ...analysis, config: await configFor(uri) });
    this.changed.fire(uri);
  }

  /**
   * Shows the cached outcome of every model `accept` lets through whose settings and files are unchanged, without
   * asking the worker anything. Returns the models restored.
   */
  async restore(accept: (model: vscode.Uri) => boolean): Promise<vscode.Uri[]> {
    const restored: vscode.Uri[] = [];
    for (const entry of await this.cache.loadAll()) {
      const uri = vscode.Uri.parse(entry.model);
      if (this.results.has(entry.model) || !accept(uri)) continue;
      try {
        const config = await configFor(uri);
        if (createIgnoreMatcher(config.ignore, config.baseDir)(uri.fsPath)) continue;
        if (entry.key !== analysisKey(config, vscode.workspace.isTrusted, configFileSetting(uri)) || !(await inputsUnchanged(entry.inputs))) continue;
        if (this.results.has(entry.model)) continue; // analysed meanwhile
        this.adopt(uri, entry.outcome, { key: entry.key, inputs: entry.inputs, fromCache: true }, config);
        restored.push(uri);
      } catch (e) {
        this.log.warn(`cached analysis of ${uri.fsPath} not restored: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (restored.length) this.log.info(`restored the cached analyses of ${restored.length} model(s)`);
    return restored;
  }

  /**
   * Analyses one model with the configuration of its workspace folder, unless an outcome made with the same settings
   * from the same files is known. Returns undefined when the file is ignored or the run was cancelled; throws
   * ConfigError on an invalid configuration. The configuration is read when the model's turn comes: requests made
   * one after the other (settings changed twice) are applied in that order, whatever the file reads take.
   */
  async analyse(uri: vscode.Uri, options: AnalyseOptions = {}): Promise<Analysis | undefined> {
    const key = uri.toString();
    const previous = this.running.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.configuredRun(uri, options));
    this.running.set(key, run);
    try {
      return await run;
    } finally {
      if (this.running.get(key) === run) this.running.delete(key);
    }
  }

  private async configuredRun(uri: vscode.Uri, options: AnalyseOptions): Promise<Analysis | undefined> {
    const config = await configFor(uri);
    if (createIgnoreMatcher(config.ignore, config.baseDir)(uri.fsPath)) {
      if (this.results.has(uri.toString())) this.log.info(`${uri.fsPath} is ignored now`);
      this.forget(uri);
      return undefined;
    }
    return this.run(uri, config, options);
  }

  private async run(uri: vscode.Uri, config: LeakLintConfig, options: AnalyseOptions): Promise<Analysis | undefined> {
    const { token } = options;
    if (token?.isCancellationRequested) return undefined;
    const trusted = vscode.workspace.isTrusted;
    const key = analysisKey(config, trusted, configFileSetting(uri));
    if (!options.force) {
      const known = await this.reusable(uri, key, token);
      if (known) this.log.debug(`${uri.fsPath}: unchanged, the cached analysis holds`);
      if (known) return this.adopt(uri, known.outcome, known.provenance, config);
    }
    this.busy.add(uri.toString());
    this.auditCount++;
    this.progressed.fire({ uri, done: 0, total: 1, label: 'starting' });
    const onProgress: ProgressListener = (done, total, label) => {
      this.progressed.fire({ uri, done, total, label });
      options.onProgress?.(done, total, label);
    };
    // Not busy any more when the outcome is shown (views read isAnalysing while they render it).
    const settle = (outcome: AuditOutcome, provenance: Provenance) => {
      this.busy.delete(uri.toString());
      return this.adopt(uri, outcome, provenance, config);
    };
    try {
      const { outcome: audited, inputs } = await this.runtime.fingerprintedAudit({ file: uri.fsPath, config, trusted }, { onProgress, cancellation: token });
      // The Jacobian-rank evidence, as the CLI adds it (trusted workspaces only: it runs native code).
      const { outcome, note } = await withIdentifiability(
        this.runtime,
        audited,
        config,
        { bundledSamples: this.bundledSamples, trusted, reuse: { memo: this.ranks, fingerprints: contentKeysOf(inputs) } },
        { onProgress, cancellation: token },
      );
      if (note) this.log.info(`${uri.fsPath}: ${note}`);
      if (outcome.kind === 'report') {
        const m = outcome.report.model;
        this.log.info(`${uri.fsPath}: ${formatVerdict(m)}: ${m.verdict.headline} (${outcome.report.seconds.toFixed(1)} s)`);
      } else {
        // Deleted while it was analysed (or waiting): no finding about a file that is gone.
        if (!(await exists(uri))) {
          this.forget(uri);
          return undefined;
        }
        this.log.warn(`${uri.fsPath} could not be read (${outcome.failure.code}): ${failureMessage(outcome.failure)}`);
      }
      if (inputs.length) await this.cache.save(uri, { key, inputs, outcome });
      return settle(outcome, { key, inputs, fromCache: false });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (token?.isCancellationRequested || (e instanceof RuntimeError && e.code === 'cancelled')) return undefined;
      // Deleted while it was analysed (or waiting): no finding about a file that is gone.
      if (!(await exists(uri))) {
        this.forget(uri);
        return undefined;
      }
      // The worker crashed or ran out of time on this model: a failure to analyse it, as the CLI would report (not
      // cached: the next try may succeed).
      this.log.error(`${uri.fsPath}: the analysis did not finish: ${message}`);
      const failure: ModelFailure = { file: uri.fsPath, code: 'invalid-model', where: '', reason: `the analysis did not finish: ${message}` };
      return settle({ kind: 'failure', failure }, { inputs: [], fromCache: false });
    } finally {
      // Cancelled, or the file went away: views that showed the progress render again.
      if (this.busy.delete(uri.toString())) this.progressed.fire({ uri, done: 1, total: 1, label: 'stopped' });
    }
  }

  /**
   * An outcome made with these settings from the files as they are now: the one in memory or in the cache, when the
   * sizes and times of its inputs are unchanged, or when the worker finds the same bytes under new times.
   */
  private async reusable(
    uri: vscode.Uri,
    key: string,
    token?: vscode.CancellationToken,
  ): Promise<{ outcome: AuditOutcome; provenance: Provenance } | undefined> {
    const current = this.get(uri);
    let candidate: Pick<CachedAnalysis, 'inputs' | 'outcome'> & Provenance;
    if (current?.key === key && current.inputs.length) {
      candidate = {
        ...current,
        outcome: current.kind === 'report' ? { kind: 'report', report: current.report } : { kind: 'failure', failure: current.failure },
      };
    } else {
      const stored = await this.cache.load(uri);
      if (stored?.key !== key || !stored.inputs.length) return undefined;
      candidate = { ...stored, fromCache: true };
    }
    const provenance: Provenance = { key, inputs: candidate.inputs, fromCache: candidate.fromCache };
    if (await inputsUnchanged(candidate.inputs)) return { outcome: candidate.outcome, provenance };
    const now = await this.runtime.fingerprint({ files: candidate.inputs.map((i) => i.file) }, { cancellation: token }).catch(() => []);
    if (!sameContent(now, candidate.inputs)) return undefined;
    this.log.info(`${uri.fsPath}: same content under new modification times, analysis kept`);
    await this.cache.save(uri, { key, inputs: now, outcome: candidate.outcome });
    return { outcome: candidate.outcome, provenance: { ...provenance, inputs: now } };
  }

  private adopt(uri: vscode.Uri, outcome: AuditOutcome, provenance: Provenance, config: LeakLintConfig): Analysis {
    const analysis: Analysis =
      outcome.kind === 'report'
        ? { kind: 'report', uri, report: outcome.report, config, ...provenance }
        : { kind: 'failed', uri, failure: outcome.failure, config, ...provenance };
    const previous = this.get(uri);
    this.results.set(uri.toString(), analysis);
    // The same outcome again (a cache hit on a model already shown): views stay as they are unless settings changed.
    const sameShown =
      previous !== undefined &&
      previous.key === provenance.key &&
      previous.inputs === provenance.inputs &&
      JSON.stringify(previous.config) === JSON.stringify(config);
    if (!sameShown) this.changed.fire(uri);
    return analysis;
  }

  dispose() {
    this.changed.dispose();
    this.progressed.dispose();
  }
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  return vscode.workspace.fs.stat(uri).then(
    () => true,
    () => false,
  );
}

/** "models/cnn6.onnx (node 3 (conv1)): the file is truncated" — how a failure reads in the editor. */
export function failureMessage(failure: ModelFailure): string {
  return `${failure.where ? `${failure.where}: ` : ''}${failure.reason}`;
}
