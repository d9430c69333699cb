// `leaklint attack <model>`: run the reconstruction attack on sample images (or on gradients a client shared) and
// write, per image, the original, the reconstruction, a side-by-side PNG and a JSON; plus attack.json and reports.
import * as fs from 'fs';
import * as path from 'path';
import {
  attackJson,
  attackOptionsOf,
  displayPath,
  formatReport,
  leaks,
  REPORT_EXTENSIONS,
  TOOL,
  writeAttackSummary,
  type AttackJobOptions,
  type AttackMethod,
  type AttackReport,
  type OutputFile,
  type InputShapeOption,
  type ReportFormat,
} from '../engine';
import { bundledSamplesFolder } from '../node/bundle';
import { writeOutputFiles } from '../node/outputs';
import { loadConfig } from './audit';
import { CliError, describeFailure, describeModelError, ExitCode, printLine, type CliContext } from './context';
import { Progress } from './progress';
import { createCliRuntime, jobBudgetMs } from './runtime';

export interface AttackCommandOptions {
  image?: string;
  maxImages?: number;
  label?: number;
  out: string;
  method?: AttackMethod;
  iterations?: number;
  restarts?: number;
  tvWeight?: number;
  timeBudgetSeconds?: number;
  refine?: boolean;
  refineBudgetSeconds?: number;
  gradients?: string;
  mean?: number[];
  std?: number[];
  inputShape?: InputShapeOption;
  /** Config file; default: leaklint.config.json in the working directory, if any. */
  config?: string;
  /** Extra reports besides attack.json (markdown, html). */
  format: ReportFormat[];
  failOnLeak: boolean;
  /** No progress lines and no "results written" line. */
  quiet: boolean;
}

export async function runAttackCommand(model: string, options: AttackCommandOptions, context: CliContext): Promise<ExitCode> {
  const file = path.resolve(context.cwd, model);
  if (!fs.existsSync(file)) throw new CliError(`${displayPath(file, context.cwd)}: no such file`);
  if (options.gradients !== undefined && !fs.existsSync(path.resolve(context.cwd, options.gradients))) {
    throw new CliError(`--gradients ${options.gradients}: no such file`);
  }
  const config = await loadConfig(options.config, context.cwd);
  const out = path.resolve(context.cwd, options.out);
  const overrides: Partial<AttackJobOptions> = {
    ...imageOption(options.image, context.cwd),
    ...(options.maxImages !== undefined ? { maxImages: options.maxImages } : {}),
    ...(options.label !== undefined ? { label: options.label } : {}),
    ...matchingOverrides(options),
    ...(options.refine !== undefined ? { refine: options.refine } : {}),
    ...(options.refineBudgetSeconds !== undefined ? { refineBudgetMs: options.refineBudgetSeconds * 1000 } : {}),
    ...(options.gradients ? { gradientsFile: path.resolve(context.cwd, options.gradients) } : {}),
    ...(options.mean || options.std ? { normalization: { mean: options.mean ?? [0], std: options.std ?? [1] } } : {}),
  };
  if (options.gradients && overrides.imageFolder)
    throw new CliError('--gradients is one training step: --image takes the one image it came from, not a folder');
  const progress = new Progress(context, { quiet: options.quiet });
  progress.model(0, 1, file);
  const runtime = createCliRuntime();
  const attackOptions = attackOptionsOf(config, bundledSamplesFolder(), overrides);
  let outcome;
  try {
    outcome = await runtime.attack(
      {
        file,
        config: { inputShape: options.inputShape ?? config.inputShape },
        options: attackOptions,
        trusted: true,
      },
      { onProgress: (done, total, label) => progress.steps(done, total, label), timeBudgetMs: jobBudgetMs(attackOptions) },
    );
  } catch (e) {
    progress.clear();
    printLine(context, describeModelError(file, (e as Error).message, context.cwd));
    return ExitCode.error;
  } finally {
    runtime.dispose();
  }
  progress.clear();
  if (outcome.kind === 'failure') {
    printLine(context, describeFailure(outcome.failure, context.cwd));
    return ExitCode.error;
  }
  if (outcome.kind === 'not-run') {
    printLine(context, describeModelError(file, outcome.reason, context.cwd));
    return ExitCode.error;
  }
  await writeAttackOutputs(outcome.report, outcome.files, out, options, context);
  context.stdout(writeAttackSummary(outcome.report, context.cwd));
  return options.failOnLeak && leaks(outcome.report) ? ExitCode.findings : ExitCode.clean;
}

/** The gradient-matching choices of a command line (attack, audit --attack) as attack options. */
function matchingOverrides(
  options: Pick<AttackCommandOptions, 'method' | 'iterations' | 'restarts' | 'tvWeight' | 'timeBudgetSeconds'>,
): Partial<AttackJobOptions> {
  return {
    ...(options.method !== undefined ? { method: options.method } : {}),
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
    ...(options.restarts !== undefined ? { restarts: options.restarts } : {}),
    ...(options.tvWeight !== undefined ? { tvWeight: options.tvWeight } : {}),
    ...(options.timeBudgetSeconds !== undefined ? { timeBudgetMs: options.timeBudgetSeconds * 1000 } : {}),
  };
}

/** The images and their JSON, attack.json and any requested reports, into `out`. */
async function writeAttackOutputs(
  report: AttackReport,
  files: OutputFile[],
  out: string,
  { format: formats, quiet }: Pick<AttackCommandOptions, 'format' | 'quiet'>,
  context: CliContext,
): Promise<void> {
  const reports: OutputFile[] = [{ path: 'attack.json', bytes: new TextEncoder().encode(attackJson(report)) }];
  const attackFiles = new Map(files.map((f) => [f.path, f.bytes]));
  for (const format of formats) {
    const text = formatReport(format, { tool: TOOL, reports: [], failures: [], baseDir: context.cwd, attacks: [report], attackFiles });
    reports.push({ path: `leaklint-attack.${REPORT_EXTENSIONS[format]}`, bytes: new TextEncoder().encode(text) });
  }
  try {
    await writeOutputFiles(out, [...files, ...reports]);
  } catch (e) {
    throw new CliError(`cannot write the attack results to ${displayPath(out, context.cwd)}: ${(e as Error).message}`);
  }
  if (!quiet) printLine(context, `attack results written to ${displayPath(out, context.cwd)}`);
}

function imageOption(image: string | undefined, cwd: string): Pick<AttackJobOptions, 'imageFiles' | 'imageFolder'> {
  if (!image) return {};
  const target = path.resolve(cwd, image);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new CliError(`--image ${image}: no such file or folder`);
  }
  return stat.isDirectory() ? { imageFolder: target } : { imageFiles: [target] };
}
