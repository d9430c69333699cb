// `leaklint audit <paths...>`: find the models, audit each (the engine's auditFile, in this process), optionally
// attack each in the background runtime, write one report, and exit 0 / 1 / 2.
import * as fs from 'fs';
import * as path from 'path';
import {
  attackOptionsOf,
  auditFile,
  BaselineError,
  collectIssues,
  createIgnoreMatcher,
  defaultConfig,
  discoverModelFiles,
  displayPath,
  failsOn,
  findConfigFile,
  formatOptionsOf,
  formatReport,
  loadConfigFile,
  parseBaseline,
  REPORT_EXTENSIONS,
  reportInputOf,
  type AttackReport,
  type AttackSettings,
  type AuditOutcome,
  type Baseline,
  type FailOn,
  type LeakLintConfig,
  type ModelReport,
  type InputShapeOption,
  type ReportFormat,
  type Severity,
} from '../engine';
import { bundledSamplesFolder } from '../node/bundle';
import { nodeFileAccess } from '../node/nodeFileAccess';
import { writeOutputFiles } from '../node/outputs';
import { CliError, describeFailure, ExitCode, printLine, reasonAbout, type CliContext } from './context';
import { Progress } from './progress';
import { createCliRuntime, jobBudgetMs } from './runtime';
import { withIdentifiability } from '../runtime/identifiability';

export interface AuditOptions {
  /** One report per format; several need `out` to name a folder. */
  format: ReportFormat[];
  out?: string;
  /** Overrides the config's failOn. */
  failOn?: FailOn;
  /** Overrides the config's inputShape. */
  inputShape?: InputShapeOption;
  /** Config file; default: leaklint.config.json in the working directory, if any. */
  config?: string;
  /** Each overrides the config's key of the same name when set. */
  surrogateWeights?: boolean;
  fixes?: boolean;
  quick?: boolean;
  /** No progress lines and no "report written" lines; warnings and errors are still printed. */
  quiet: boolean;
  /** False: no Jacobian-rank evidence (--no-identifiability); "exact": no column cap (--exact-identifiability). */
  identifiability?: boolean | 'exact';
  /** Also run the reconstruction attack on each analysed model (images go next to the reports). */
  attack?: Pick<AttackSettings, 'maxImages' | 'refine' | 'method' | 'iterations' | 'restarts' | 'tvWeight' | 'timeBudgetSeconds'>;
  /** A previous JSON report: report and fail only on findings that are new or got worse since. */
  baseline?: string;
  /** SARIF: the folder URIs are relative to (default: the repository root above the working folder, else it). */
  sarifRoot?: string;
  /** SARIF: the lowest layer-finding severity that becomes a result (default medium). */
  sarifMinLevel?: Severity;
}

export async function runAudit(paths: readonly string[], options: AuditOptions, context: CliContext): Promise<ExitCode> {
  const config = withOverrides(await loadConfig(options.config, context.cwd), options);
  if (options.format.length > 1 && !(options.out && namesFolder(options.out, context.cwd))) {
    throw new CliError('several formats need --out <folder>/ to write one report each');
  }
  if (options.attack && !(options.out && namesFolder(options.out, context.cwd))) {
    throw new CliError('--attack needs --out <folder>/ for the reconstruction images');
  }
  const baseline = options.baseline !== undefined ? readBaseline(options.baseline, context.cwd) : undefined;
  const sarifRoot = options.sarifRoot !== undefined ? existingFolder('--sarif-root', options.sarifRoot, context.cwd) : repositoryRoot(context.cwd);

  const isIgnored = createIgnoreMatcher(config.ignore, config.baseDir);
  const discovery = await discoverModelFiles(nodeFileAccess, paths, context.cwd, isIgnored);
  // A path that names nothing to audit is a mistake (a typo, a moved folder): it must not pass as "no findings".
  for (const missing of discovery.missing) printLine(context, `${displayPath(missing, context.cwd)}: no such file or folder`);
  for (const empty of discovery.empty) {
    const why = isIgnored(empty) ? 'skipped by the ignore globs of the configuration' : 'no model files (.onnx, TF.js model.json) found in this folder';
    printLine(context, `${displayPath(empty, context.cwd)}: ${why}`);
  }
  if (discovery.missing.length + discovery.empty.length > 0) return ExitCode.error;
  for (const { folder, reason } of discovery.unreadableFolders) {
    printLine(context, `${displayPath(folder, context.cwd)}: cannot list the folder (${reason}); its models were not audited`);
  }

  const progress = new Progress(context, { quiet: options.quiet });
  let outcomes: AuditOutcome[] = [];
  for (const [index, file] of discovery.files.entries()) {
    progress.model(index, discovery.files.length, file);
    const outcome = await auditFile(file, config, {
      files: nodeFileAccess,
      trusted: true,
      onProgress: (done, total, layer) => progress.layer(done, total, layer),
    });
    progress.clear();
    // Errors and warnings on stderr, each once: with --format json/sarif on stdout nobody would see them otherwise,
    // and the table leaves them out.
    if (outcome.kind === 'failure') printLine(context, describeFailure(outcome.failure, context.cwd));
    else for (const warning of outcome.report.warnings) printLine(context, `${displayPath(file, context.cwd)}: warning: ${warning}`);
    outcomes.push(outcome);
  }
  // --quick computes no numerical ranks, and this is one.
  if (config.identifiability !== false && !config.quick) outcomes = await identifiabilityOf(outcomes, config, progress, context);

  const reportDir = options.out ? path.resolve(context.cwd, options.out) : undefined;
  const reports = outcomes.flatMap((o) => (o.kind === 'report' ? [o.report] : []));
  const attacks = options.attack ? await attackModels(reports, config, reportDir!, progress, context) : undefined;

  const input = { ...reportInputOf(outcomes, config, context.cwd, attacks), ...(baseline ? { baseline } : {}) };
  const formatOptions = { ...formatOptionsOf(process.env, new Date()), sarif: { root: sarifRoot, minLevel: options.sarifMinLevel } };
  for (const format of options.format) {
    const text = formatReport(format, input, formatOptions);
    if (options.out) {
      const written = writeReportFile(options.out, context.cwd, format, text);
      if (!options.quiet) printLine(context, `report written to ${displayPath(written, context.cwd)}`);
    } else {
      context.stdout(text);
    }
  }

  if (input.failures.length > 0 || discovery.unreadableFolders.length > 0) return ExitCode.error;
  return failsOn(collectIssues(input), config.failOn) ? ExitCode.findings : ExitCode.clean;
}

/** The previous JSON report of --baseline; a missing or foreign file is a usage error (exit 2). */
function readBaseline(file: string, cwd: string): Baseline {
  const absolute = path.resolve(cwd, file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`--baseline ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return parseBaseline(text, displayPath(absolute, cwd), cwd);
  } catch (e) {
    if (e instanceof BaselineError) throw new CliError(`--baseline ${e.message}`);
    throw e;
  }
}

function existingFolder(option: string, folder: string, cwd: string): string {
  const absolute = path.resolve(cwd, folder);
  if (!fs.existsSync(absolute) || !fs.statSync(absolute).isDirectory()) throw new CliError(`${option} ${folder}: no such folder`);
  return absolute;
}

/** The nearest folder at or above `cwd` with a .git (a folder, or a file in a worktree); else `cwd` itself. */
export function repositoryRoot(cwd: string): string {
  for (let folder = path.resolve(cwd); ; folder = path.dirname(folder)) {
    if (fs.existsSync(path.join(folder, '.git'))) return folder;
    if (path.dirname(folder) === folder) return path.resolve(cwd);
  }
}

/**
 * The Jacobian-rank evidence for every analysed model, one at a time in the background runtime (the CLI is a trusted
 * context). A model it cannot be measured on keeps its verdict; a runtime failure gets a line on stderr.
 */
async function identifiabilityOf(outcomes: AuditOutcome[], config: LeakLintConfig, progress: Progress, context: CliContext): Promise<AuditOutcome[]> {
  if (!outcomes.some((o) => o.kind === 'report')) return outcomes;
  let runtime;
  try {
    runtime = createCliRuntime();
  } catch (e) {
    printLine(context, `identifiability not measured: ${(e as Error).message}`);
    return outcomes;
  }
  const result: AuditOutcome[] = [];
  try {
    for (const [index, outcome] of outcomes.entries()) {
      if (outcome.kind === 'report') progress.terminalOnly(index, outcomes.length, outcome.report.file, 'rank of J');
      const run = await withIdentifiability(
        runtime,
        outcome,
        config,
        { bundledSamples: bundledSamplesFolder(), trusted: true },
        { onProgress: (done, total, label) => progress.layer(done, total, label) },
      );
      // A model the rank cannot be taken on (unsupported layers, unreadable weights) simply has no such evidence; only
      // a runtime that failed is worth a line.
      if (run.note && run.failed && outcome.kind === 'report') {
        progress.clear();
        printLine(context, `${displayPath(outcome.report.file, context.cwd)}: ${run.note}`);
      }
      result.push(run.outcome);
    }
  } finally {
    runtime.dispose();
    progress.clear();
  }
  return result;
}

/** The command line's choices on top of the config file's. */
function withOverrides(config: LeakLintConfig, options: AuditOptions): LeakLintConfig {
  const attack = options.attack ? { ...config.attack, ...defined(options.attack) } : config.attack;
  return {
    ...config,
    ...defined({
      failOn: options.failOn,
      inputShape: options.inputShape,
      surrogateWeights: options.surrogateWeights,
      fixes: options.fixes,
      quick: options.quick,
      identifiability: options.identifiability,
    }),
    ...(attack ? { attack } : {}),
  };
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The attack for every analysed model, one at a time in the background runtime. A model the attack cannot run on
 * (no dense classifier, an op the float64 network lacks) is reported on stderr and listed in the reports as not
 * attacked, so that it is not mistaken for a safe one.
 */
async function attackModels(
  reports: ModelReport[],
  config: LeakLintConfig,
  reportDir: string,
  progress: Progress,
  context: CliContext,
): Promise<{ attacks: AttackReport[]; attackFiles: Map<string, Uint8Array> }> {
  const runtime = createCliRuntime();
  const attacks: AttackReport[] = [];
  const attackFiles = new Map<string, Uint8Array>();
  const usedNames = new Set<string>();
  const options = attackOptionsOf(config, bundledSamplesFolder());
  try {
    for (const [index, report] of reports.entries()) {
      progress.model(index, reports.length, report.file, 'attack');
      const folder = path.posix.join('reconstructions', uniqueFolderName(report.file, context.cwd, usedNames));
      const notAttacked = (reason: string) => {
        progress.clear();
        printLine(context, `${displayPath(report.file, context.cwd)}: attack not run: ${reasonAbout(report.file, reason, context.cwd)}`);
        attacks.push({
          file: report.file,
          inputShape: report.inputShape,
          normalization: { mean: [], std: [] },
          gradientsFrom: 'simulated',
          method: options.method ?? 'auto',
          refine: options.refine ?? false,
          images: [],
          verdict: `The attack did not run: ${reason}. This does not prove the model safe.`,
          warnings: [],
        });
      };
      try {
        const outcome = await runtime.attack(
          { file: report.file, config, options, trusted: true },
          { onProgress: (done, total, label) => progress.steps(done, total, label), timeBudgetMs: jobBudgetMs(options) },
        );
        if (outcome.kind === 'failure') notAttacked(outcome.failure.reason);
        else if (outcome.kind === 'not-run') notAttacked(outcome.reason);
        else {
          const files = outcome.files.map((f) => ({ path: path.posix.join(folder, f.path), bytes: f.bytes }));
          await writeOutputFiles(reportDir, files);
          for (const f of files) attackFiles.set(f.path, f.bytes);
          for (const image of outcome.report.images) {
            if (!image.files) continue;
            const prefix = (f: string) => (f ? path.posix.join(folder, f) : f);
            image.files = {
              original: prefix(image.files.original),
              reconstructed: prefix(image.files.reconstructed),
              sideBySide: prefix(image.files.sideBySide),
            };
          }
          attacks.push(outcome.report);
        }
      } catch (e) {
        notAttacked((e as Error).message);
      }
    }
  } finally {
    runtime.dispose();
    progress.clear();
  }
  return { attacks, attackFiles };
}

/** "test/fixtures/cnn6/model.onnx" → "cnn6-model"; made unique within one report. */
function uniqueFolderName(file: string, cwd: string, used: Set<string>): string {
  const parts = path
    .relative(cwd, file)
    .split(path.sep)
    .filter((p) => p && p !== '..');
  const base =
    parts
      .slice(-3)
      .join('-')
      .replace(/\.(onnx|json)$/i, '')
      .replace(/[^A-Za-z0-9_.-]/g, '_') || 'model';
  let name = base;
  for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
  used.add(name);
  return name;
}

/** --config if given, else leaklint.config.json in the working directory, else the defaults. Throws ConfigError. */
export async function loadConfig(configFile: string | undefined, cwd: string): Promise<LeakLintConfig> {
  const file = configFile !== undefined ? path.resolve(cwd, configFile) : await findConfigFile(nodeFileAccess, cwd);
  return file !== undefined ? loadConfigFile(nodeFileAccess, file) : defaultConfig(cwd);
}

function namesFolder(out: string, cwd: string): boolean {
  const target = path.resolve(cwd, out);
  return /[\\/]$/.test(out) || (fs.existsSync(target) && fs.statSync(target).isDirectory());
}

/** Writes to `out`, or into it as leaklint-report.<ext> when it is a folder (existing, or named with a trailing slash). */
function writeReportFile(out: string, cwd: string, format: ReportFormat, text: string): string {
  const target = path.resolve(cwd, out);
  const file = namesFolder(out, cwd) ? path.join(target, `leaklint-report.${REPORT_EXTENSIONS[format]}`) : target;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  } catch (e) {
    throw new CliError(`cannot write the report to ${displayPath(file, cwd)}: ${(e as Error).message}`);
  }
  return file;
}
