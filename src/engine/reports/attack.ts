// The reconstruction attack in reports: per model, the verdict, one row per image and the image pairs.
import type { AttackImageResult, AttackReport } from '../attack/types';
import { attackEvidence } from '../verdict/decide';
import { displayPath, escapeMarkdown, formatShape, jsonText, markdownCode, plainText, renderMarkdownTable, renderTextTable, type Alignment } from './format';

/**
 * The attack proved the leak (`attack --fail-on-leak`): it rebuilt a recognisable image, as the verdict counts it
 * (PSNR ≥ 18 dB or SSIM ≥ 0.5, `RECOGNISABLE`).
 */
export function leaks(report: AttackReport): boolean {
  return attackEvidence(report).outcome === 'rebuilt';
}

/**
 * An attack report (or several) as JSON. JSON has no Infinity or NaN: a number that is not finite is written as null
 * (an exact reconstruction's PSNR; the training loss of gradients a client shared, which nobody computed here), the
 * same as JSON.stringify does in the audit's report; PNG bytes never appear (reports name the files).
 */
export function attackJson(value: unknown): string {
  return jsonText(value);
}

/** The terminal summary of one attack: a row per image with the method that made it, where the closed form stopped, and the verdict. */
export function writeAttackSummary(report: AttackReport, cwd: string): string {
  const rows = report.images.map((image) => [
    image.image,
    `${image.recoveredLabel}${image.labelRecovered ? '' : ` (was ${image.label})`}`,
    image.method ?? 'none',
    formatDecibels(image.quality?.clipped.psnr),
    formatSsim(image.quality?.clipped.ssim),
    image.relativeError !== undefined ? image.relativeError.toExponential(1) : '-',
    formatSteps(image),
    `${image.seconds.total.toFixed(2)} s`,
  ]);
  const align: Alignment[] = ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'];
  const table = renderTextTable(['image', 'label', 'method', 'PSNR', 'SSIM', 'rel. error', 'steps (runs)', 'time'], rows, align);
  const stop = report.images.find((i) => i.stoppedAt)?.stoppedAt;
  const notes = [
    ...(stop ? [`closed form stopped at ${stop.unitId}: ${stop.reason}`] : []),
    ...(report.gradientMatching?.unavailable ? [report.gradientMatching.unavailable] : []),
  ];
  return `${plainText(displayPath(report.file, cwd))}\n${table}\n${[...notes, report.verdict].map((n) => `${plainText(n)}\n`).join('')}`;
}

/** Gradient matching's steps and runs on an image ("4000 (2)", "1200 (2), time"), or "-" when it did not run. */
export function formatSteps(image: AttackImageResult): string {
  const run = image.gradientMatching;
  return run ? `${run.iterations} (${run.runs})${run.stoppedBy === 'time' ? ', time' : ''}` : '-';
}

/** The method that made an image's reconstruction, in words, or why there is none. */
export function describeImageMethod(image: AttackImageResult): string {
  const run = image.gradientMatching;
  const steps = run
    ? ` (${run.iterations} steps in ${run.runs} run${run.runs === 1 ? '' : 's'}${run.stoppedBy === 'time' ? ', cut short by the time budget' : ''})`
    : '';
  switch (image.method) {
    case 'closed-form':
      return run ? `closed form; gradient matching did not improve on it${steps}` : 'closed form';
    case 'hybrid':
      return `hybrid: gradient matching from the closed form's image${steps}`;
    case 'gradient-matching':
      return `gradient matching from noise${steps}`;
    case undefined:
      return `none: ${image.stoppedAt?.reason ?? 'the input was not reached'}`;
  }
}

export function formatDecibels(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  return value === Infinity ? '∞' : `${value.toFixed(1)} dB`;
}

export function formatSsim(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '—' : value.toFixed(3);
}

export function attackRows(report: AttackReport): string[][] {
  return report.images.map((image) => [
    image.files?.sideBySide ? `![${escapeMarkdown(image.image)}](${encodeURI(image.files.sideBySide)})` : escapeMarkdown(image.image),
    `${image.recoveredLabel}${image.labelRecovered ? ' ✓' : ` ✗ (was ${image.label})`} (${escapeMarkdown(image.labelRule)})`,
    escapeMarkdown(describeImageMethod(image)),
    formatDecibels(image.quality?.clipped.psnr),
    formatSsim(image.quality?.clipped.ssim),
    image.relativeError !== undefined ? image.relativeError.toExponential(2) : '—',
    `${image.seconds.total.toFixed(2)} s`,
  ]);
}

export function attackMarkdown(attacks: AttackReport[], baseDir: string): string {
  const parts = [
    '## Reconstruction attack',
    'Each image below was fed through one simulated training step; LeakLint then rebuilt it from the gradients alone: in closed form (R-GAP/COPA, layer by layer from the output) where the layer systems determine it, else by gradient matching (Inverting Gradients). The method column says which made each image. PSNR/SSIM are measured on [0,1] images, reconstruction clipped to [0,1].',
  ];
  const align: Alignment[] = ['left', 'left', 'left', 'right', 'right', 'right', 'right'];
  for (const report of attacks) {
    parts.push(`### ${markdownCode(displayPath(report.file, baseDir))}`);
    parts.push(
      [
        `**${escapeMarkdown(report.verdict)}**`,
        '',
        ...(report.images.length
          ? [
              `- Input ${formatShape(report.inputShape, '×')}, normalisation mean ${report.normalization.mean.join(', ')} / std ${report.normalization.std.join(', ')}; gradients ${report.gradientsFrom}; method ${report.method ?? 'closed-form'}${matchingSettings(report)}; correction step ${report.refine ? 'on' : 'off'}`,
            ]
          : []),
        ...(report.runtimeCheck
          ? [
              `- onnxruntime-node forward pass agrees with the engine's float64 pass to ${report.runtimeCheck.maxAbsDifference.toExponential(1)} (${report.runtimeCheck.tensorsCompared} tensors)`,
            ]
          : []),
        ...report.warnings.map((w) => `- Warning: ${escapeMarkdown(w)}`),
      ].join('\n'),
    );
    if (report.images.length) {
      parts.push(
        renderMarkdownTable(['Original · reconstruction', 'Label recovered', 'Method', 'PSNR', 'SSIM', 'Rel. error', 'Time'], attackRows(report), align),
      );
    }
  }
  return parts.join('\n\n');
}

/** ", gradient matching 2000 iterations × 2 restarts, TV 0.001" when the method may use it. */
export function matchingSettings(report: AttackReport): string {
  const m = report.gradientMatching;
  if (!m) return '';
  return `, gradient matching ${m.iterations} iterations × ${m.restarts} restart${m.restarts === 1 ? '' : 's'}, TV ${m.tvWeight}${m.unavailable ? ' (did not run)' : ''}`;
}
