// `leaklint attack <model>`: run the reconstruction attack on sample images (or on gradients a client shared) and
// write, per image, the original, the reconstruction, a side-by-side PNG and a JSON; plus attack.json and reports.
import * as fs from 'fs';
import * as path from 'path';
import { attackJson, type AttackJobOptions } from '../engine/attack/attack';
import type { AttackReport } from '../engine/attack/types';
import { formatReport, REPORT_EXTENSIONS, type ReportFormat } from '../engine/reports';
import { formatDecibels, formatSsim } from '../engine/reports/attack';
import { displayPath, renderTextTable } from '../engine/reports/format';
import { CliAttackRunner } from './attackRunner';
import { CliError, ExitCode, TOOL, type CliContext } from './context';
import { Progress } from './progress';
import type { InputShapeOption } from '../engine/options';

/** PSNR from which a reconstruction counts as a proven leak (recognisable image) for --fail-on-leak. */
export const LEAK_PSNR_DB = 30;

export interface AttackCommandOptions {
  image?: string;
  maxImages?: number;
  label?: number;
  out: string;
  refine: boolean;
  refineBudgetSeconds?: number;
  gradients?: string;
  mean?: number[];
  std?: number[];
  inputShape?: InputShapeOption;
  /** Extra reports besides attack.json (markdown, html). */
  format: ReportFormat[];
  failOnLeak: boolean;
  progress: boolean;
}

export async function runAttackCommand(model: string, options: AttackCommandOptions, context: CliContext): Promise<ExitCode> {
  const file = path.resolve(context.cwd, model);
  if (!fs.existsSync(file)) throw new CliError(`${displayPath(file, context.cwd)}: no such file`);
  const out = path.resolve(context.cwd, options.out);
  const jobOptions: AttackJobOptions = {
    ...imageOption(options.image, context.cwd),
    maxImages: options.maxImages,
    label: options.label,
    refine: options.refine,
    refineBudgetMs: options.refineBudgetSeconds !== undefined ? options.refineBudgetSeconds * 1000 : undefined,
    gradientsFile: options.gradients ? path.resolve(context.cwd, options.gradients) : undefined,
    normalization: options.mean || options.std ? { mean: options.mean ?? [0], std: options.std ?? [1] } : undefined,
    outDir: out,
  };
  const progress = new Progress(context, options.progress);
  progress.model(0, 1, file);
  const runner = new CliAttackRunner();
  let report: AttackReport;
  try {
    report = await runner.run({ file, read: { inputShape: options.inputShape }, options: jobOptions }, progress);
  } catch (e) {
    progress.clear();
    context.stderr(`leaklint: ${displayPath(file, context.cwd)}: ${(e as Error).message}\n`);
    return ExitCode.error;
  } finally {
    runner.dispose();
  }
  progress.clear();
  writeAttackOutputs([report], out, options.format, context);
  context.stdout(attackSummary(report, context.cwd));
  return options.failOnLeak && leaks(report) ? ExitCode.findings : ExitCode.clean;
}

export function leaks(report: AttackReport): boolean {
  return report.images.some((image) => (image.quality?.clipped.psnr ?? 0) >= LEAK_PSNR_DB);
}

/** attack.json plus any requested reports, into `out`. */
export function writeAttackOutputs(reports: AttackReport[], out: string, formats: ReportFormat[], context: CliContext): void {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'attack.json'), attackJson(reports.length === 1 ? reports[0] : reports));
  for (const format of formats) {
    const text = formatReport(format, { tool: TOOL, reports: [], failures: [], baseDir: context.cwd, attacks: reports, reportDir: out });
    fs.writeFileSync(path.join(out, `leaklint-attack.${REPORT_EXTENSIONS[format]}`), text);
  }
  context.stderr(`leaklint: attack results written to ${displayPath(out, context.cwd)}\n`);
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

export function attackSummary(report: AttackReport, cwd: string): string {
  const rows = report.images.map((image) => [
    image.image,
    `${image.recoveredLabel}${image.labelRecovered ? '' : ` (was ${image.label})`}`,
    image.reachedInput ? 'yes' : 'no',
    formatDecibels(image.quality?.clipped.psnr),
    formatSsim(image.quality?.clipped.ssim),
    image.relativeError !== undefined ? image.relativeError.toExponential(1) : '-',
    `${image.seconds.total.toFixed(2)} s`,
  ]);
  const table = renderTextTable(['image', 'label', 'reached input', 'PSNR', 'SSIM', 'rel. error', 'time'], rows, [
    'left',
    'left',
    'left',
    'right',
    'right',
    'right',
    'right',
  ]);
  const stop = report.images.find((i) => i.stoppedAt)?.stoppedAt;
  return `${displayPath(report.file, cwd)}\n${table}\n${stop ? `stopped at ${stop.unitId}: ${stop.reason}\n` : ''}${report.verdict}\n`;
}
