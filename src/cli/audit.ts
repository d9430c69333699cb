// `leaklint audit <paths...>`: read and analyse every model, write one report, and exit 0 / 1 / 2.
import * as fs from 'fs';
import * as path from 'path';
import { analyseModel } from '../engine/analysis/analyseModel';
import type { ModelReport } from '../engine/analysis/types';
import { createIgnoreMatcher, defaultConfig, findConfigFile, loadConfigFile, type FailOn, type LeakLintConfig } from '../engine/config';
import { readModel } from '../engine/readers';
import { collectIssues, failsOn, formatReport, REPORT_EXTENSIONS, type ReadFailure, type ReportFormat, type ReportInput } from '../engine/reports';
import { displayPath } from '../engine/reports/format';
import { asReadError, CliError, ExitCode, formatReadError, TOOL, type CliContext } from './context';
import { discoverModelFiles } from './discover';
import { Progress } from './progress';
import { CliAttackRunner } from './attackRunner';
import type { AttackReport } from '../engine/attack/types';
import type { InputShapeOption } from '../engine/options';

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
  surrogateWeights: boolean;
  fixes: boolean;
  /** Counts and structural bounds only (no numerical ranks). */
  quick: boolean;
  progress: boolean;
  /** Also run the reconstruction attack on each analysed model (images go next to the reports). */
  attack?: { maxImages: number; refine: boolean };
}

export async function runAudit(paths: readonly string[], options: AuditOptions, context: CliContext): Promise<ExitCode> {
  const config = loadConfig(options.config, context.cwd);
  const failOn = options.failOn ?? config.failOn;
  if (options.format.length > 1 && !(options.out && namesFolder(options.out, context.cwd))) {
    throw new CliError('several formats need --out <folder>/ to write one report each');
  }
  const inputShape = options.inputShape ?? config.inputShape;
  if (options.attack && !(options.out && namesFolder(options.out, context.cwd))) {
    throw new CliError('--attack needs --out <folder>/ for the reconstruction images');
  }

  const discovery = discoverModelFiles(paths, context.cwd, createIgnoreMatcher(config.ignore, config.baseDir));
  for (const { folder, reason } of discovery.unreadableFolders) {
    context.stderr(`leaklint: ${displayPath(folder, context.cwd)}: cannot list the folder (${reason}); skipped\n`);
  }
  if (discovery.files.length === 0) context.stderr(`leaklint: no model files found in ${paths.join(', ')}\n`);

  const progress = new Progress(context, options.progress);
  const reports: ModelReport[] = [];
  const failures: ReadFailure[] = [];
  discovery.files.forEach((file, index) => {
    progress.model(index, discovery.files.length, file);
    let graph;
    try {
      graph = readModel(file, { inputShape });
    } catch (e) {
      failures.push({ file, error: asReadError(file, e, 'reading') });
      return;
    }
    try {
      reports.push(
        analyseModel(graph, {
          surrogateWeights: options.surrogateWeights,
          fixes: options.fixes,
          maxFlopsPerModel: options.quick ? 0 : undefined,
          thresholds: config.thresholds,
          onProgress: (done, total, layer) => progress.layer(done, total, layer),
        }),
      );
    } catch (e) {
      failures.push({ file, error: asReadError(file, e, 'analysing') });
    }
  });
  progress.clear();

  // Failures also go to stderr: with --format json/sarif on stdout, nobody would see them otherwise.
  for (const failure of failures) context.stderr(formatReadError(failure.error, context.cwd) + '\n');

  const attacks = options.attack
    ? await attackModels(reports, inputShape, options.attack, path.resolve(context.cwd, options.out!), progress, context)
    : undefined;

  const input: ReportInput = {
    tool: TOOL,
    reports,
    failures,
    rules: config.rules,
    baseDir: context.cwd,
    ...(attacks ? { attacks, reportDir: path.resolve(context.cwd, options.out!) } : {}),
  };
  const generatedAt = new Date();
  for (const format of options.format) {
    const text = formatReport(format, input, { generatedAt });
    if (options.out) {
      const written = writeReportFile(options.out, context.cwd, format, text);
      context.stderr(`leaklint: report written to ${displayPath(written, context.cwd)}\n`);
    } else {
      context.stdout(text);
    }
  }

  if (failures.length > 0) return ExitCode.error;
  return failsOn(collectIssues(input), failOn) ? ExitCode.findings : ExitCode.clean;
}

/**
 * The attack for every analysed model, one at a time in the background runtime. A model the attack cannot run on
 * (no dense classifier, an op the float64 network lacks) is reported on stderr and left out of the attack section.
 */
async function attackModels(
  reports: ModelReport[],
  inputShape: InputShapeOption | undefined,
  settings: { maxImages: number; refine: boolean },
  reportDir: string,
  progress: Progress,
  context: CliContext,
): Promise<AttackReport[]> {
  const runner = new CliAttackRunner();
  const attacks: AttackReport[] = [];
  const usedNames = new Set<string>();
  try {
    for (const [index, report] of reports.entries()) {
      progress.model(index, reports.length, report.file);
      const name = uniqueFolderName(report.file, context.cwd, usedNames);
      const folder = path.join(reportDir, 'reconstructions', name);
      try {
        const attack = await runner.run(
          { file: report.file, read: { inputShape }, options: { maxImages: settings.maxImages, refine: settings.refine, outDir: folder } },
          progress,
        );
        for (const image of attack.images) {
          if (!image.files) continue;
          const prefix = (f: string) => (f ? path.posix.join('reconstructions', name, f) : f);
          image.files = {
            original: prefix(image.files.original),
            reconstructed: prefix(image.files.reconstructed),
            sideBySide: prefix(image.files.sideBySide),
          };
        }
        attacks.push(attack);
      } catch (e) {
        progress.clear();
        const reason = (e as Error).message;
        context.stderr(`leaklint: ${displayPath(report.file, context.cwd)}: attack not run: ${reason}\n`);
        // Listed in the reports too, so that a model the attack could not run on is not mistaken for a safe one.
        attacks.push({
          file: report.file,
          inputShape: report.inputShape,
          normalization: { mean: [], std: [] },
          gradientsFrom: 'simulated',
          refine: settings.refine,
          images: [],
          verdict: `The attack did not run: ${reason}. This does not prove the model safe.`,
          warnings: [],
        });
      }
    }
  } finally {
    runner.dispose();
    progress.clear();
  }
  return attacks;
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
function loadConfig(configFile: string | undefined, cwd: string): LeakLintConfig {
  const file = configFile !== undefined ? path.resolve(cwd, configFile) : findConfigFile(cwd);
  return file !== undefined ? loadConfigFile(file) : defaultConfig(cwd);
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
