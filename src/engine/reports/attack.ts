// The reconstruction attack in reports: per model, the verdict, one row per image and the image pairs.
import type { AttackReport } from '../attack/types';
import { attackEvidence } from '../verdict/decide';
import { displayPath, formatShape, markdownCode, renderMarkdownTable, renderTextTable, type Alignment } from './format';

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
  return JSON.stringify(value, null, 2) + '\n';
}

/** The terminal summary of one attack: a row per image, where the chain stopped, and the verdict. */
export function writeAttackSummary(report: AttackReport, cwd: string): string {
  const rows = report.images.map((image) => [
    image.image,
    `${image.recoveredLabel}${image.labelRecovered ? '' : ` (was ${image.label})`}`,
    image.reachedInput ? 'yes' : 'no',
    formatDecibels(image.quality?.clipped.psnr),
    formatSsim(image.quality?.clipped.ssim),
    image.relativeError !== undefined ? image.relativeError.toExponential(1) : '-',
    `${image.seconds.total.toFixed(2)} s`,
  ]);
  const align: Alignment[] = ['left', 'left', 'left', 'right', 'right', 'right', 'right'];
  const table = renderTextTable(['image', 'label', 'reached input', 'PSNR', 'SSIM', 'rel. error', 'time'], rows, align);
  const stop = report.images.find((i) => i.stoppedAt)?.stoppedAt;
  return `${displayPath(report.file, cwd)}\n${table}\n${stop ? `stopped at ${stop.unitId}: ${stop.reason}\n` : ''}${report.verdict}\n`;
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
    image.files?.sideBySide ? `![${image.image}](${encodeURI(image.files.sideBySide)})` : image.image,
    `${image.recoveredLabel}${image.labelRecovered ? ' ✓' : ` ✗ (was ${image.label})`} (${image.labelRule})`,
    image.reachedInput ? 'yes' : `no: ${image.stoppedAt?.reason ?? ''}`,
    formatDecibels(image.quality?.clipped.psnr),
    formatSsim(image.quality?.clipped.ssim),
    image.relativeError !== undefined ? image.relativeError.toExponential(2) : '—',
    `${image.seconds.total.toFixed(2)} s`,
  ]);
}

export function attackMarkdown(attacks: AttackReport[], baseDir: string): string {
  const parts = [
    '## Reconstruction attack',
    'Each image below was fed through one simulated training step; LeakLint then rebuilt it from the gradients alone (R-GAP/COPA closed form, layer by layer from the output). PSNR/SSIM are measured on [0,1] images, reconstruction clipped to [0,1].',
  ];
  const align: Alignment[] = ['left', 'left', 'left', 'right', 'right', 'right', 'right'];
  for (const report of attacks) {
    parts.push(`### ${markdownCode(displayPath(report.file, baseDir))}`);
    parts.push(
      [
        `**${report.verdict}**`,
        '',
        ...(report.images.length
          ? [
              `- Input ${formatShape(report.inputShape, '×')}, normalisation mean ${report.normalization.mean.join(', ')} / std ${report.normalization.std.join(', ')}; gradients ${report.gradientsFrom}; correction step ${report.refine ? 'on' : 'off'}`,
            ]
          : []),
        ...(report.runtimeCheck
          ? [
              `- onnxruntime-node forward pass agrees with the engine's float64 pass to ${report.runtimeCheck.maxAbsDifference.toExponential(1)} (${report.runtimeCheck.tensorsCompared} tensors)`,
            ]
          : []),
        ...report.warnings.map((w) => `- Warning: ${w}`),
      ].join('\n'),
    );
    if (report.images.length) {
      parts.push(
        renderMarkdownTable(['Original · reconstruction', 'Label recovered', 'Reached input', 'PSNR', 'SSIM', 'Rel. error', 'Time'], attackRows(report), align),
      );
    }
  }
  return parts.join('\n\n');
}
