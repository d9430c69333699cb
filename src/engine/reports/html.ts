// A self-contained HTML report (one file, images inlined as data: URIs) for people who do not read Markdown:
// the model verdicts, the findings, and the reconstruction attack's image pairs.
import { ruleHelpUri } from '../analysis/rules';
import type { AttackReport } from '../attack/types';
import { effectiveSeverity } from '../config';
import { describeImageMethod, formatDecibels, formatSsim } from './attack';
import { displayPath, escapeHtml, formatIndices, formatLayerRanks, formatRanks, formatRisk, formatShape, jacobianRankOf, layerLabel } from './format';
import type { ReportInput } from './input';
import { collectIssues, countBySeverity, formatSeverityCounts, modelVerdict } from './issues';

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1b1b1b}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.high,.critical{color:#b00020;font-weight:600}.medium{color:#a15c00;font-weight:600}.low{color:#1e6b2e}
.pairs{display:flex;flex-wrap:wrap;gap:1em}.pair{border:1px solid #ddd;padding:.5em}.pair img{image-rendering:pixelated;display:block;max-width:100%}
.verdict{font-weight:600}.muted{color:#666}`;

export function writeHtml(input: ReportInput): string {
  const baseDir = input.baseDir ?? process.cwd();
  const issues = collectIssues(input);
  const body: string[] = [
    `<h1>LeakLint report</h1>`,
    `<p class="muted">${escapeHtml(`${input.tool.name} ${input.tool.version} · ${input.reports.length} model(s) · issues: ${formatSeverityCounts(countBySeverity(issues))}`)}</p>`,
  ];
  if (input.reports.length) {
    body.push('<h2>Models</h2><table><tr><th>Model</th><th>Risk</th><th>Severity</th><th>COPA</th><th>RA-i</th><th>Verdict</th></tr>');
    for (const r of input.reports) {
      body.push(
        `<tr><td><code>${escapeHtml(displayPath(r.file, baseDir))}</code></td><td>${formatRisk(r.model.risk, '—')}</td><td class="${r.model.severity}">${r.model.severity}</td><td>${formatIndices(r.model, '—').copa}</td><td>${formatIndices(r.model, '—').raCount}</td><td>${escapeHtml(modelVerdict(r))}</td></tr>`,
      );
    }
    body.push('</table>');
  }
  for (const r of input.reports) {
    const modelIssues = issues.filter((i) => i.report === r && i.finding && i.severity !== 'low');
    if (!modelIssues.length) continue;
    body.push(
      `<h2>Findings: <code>${escapeHtml(displayPath(r.file, baseDir))}</code></h2><table><tr><th>Layer</th><th>Input → output</th><th>Rank K/W/U</th><th>Risk</th><th>Rule</th><th>Why, and what to do</th></tr>`,
    );
    for (const issue of modelIssues) {
      const f = issue.finding!;
      const fixes = f.fixes.map((fix) => `<br>Fix: ${escapeHtml(fix.title)}`).join('');
      body.push(
        `<tr><td><code>${escapeHtml(layerLabel(f))}</code></td><td>${formatShape(f.inputShape, '×')} → ${formatShape(f.outputShape, '×')}</td><td>${escapeHtml(formatRanks(f.metrics, '—', '≤'))}</td><td>${formatRisk(f.risk, '—')}</td><td><a href="${escapeHtml(ruleHelpUri(f.ruleId))}">${f.ruleId}</a> <span class="${issue.severity}">${effectiveSeverity(f.ruleId, f.severity, input.rules ?? {})}</span></td><td>${escapeHtml(issue.message)}${fixes}</td></tr>`,
      );
    }
    body.push('</table>');
  }
  const ranked = input.reports.filter((r) => jacobianRankOf(r.model));
  if (ranked.length) {
    body.push(
      "<h2>Gradient-matching identifiability</h2><p>The rank of the Jacobian of the shared gradients with respect to the image, at a sample image: full rank means the image is locally identifiable from the gradients whatever the layers; per layer, which layers' gradients carry the image. Never evidence of safety.</p><table><tr><th>Model</th><th>Rank</th><th>Unknowns</th><th>Method</th><th>Per layer</th></tr>",
    );
    for (const r of ranked) {
      const rank = jacobianRankOf(r.model)!;
      body.push(
        `<tr><td><code>${escapeHtml(displayPath(r.file, baseDir))}</code></td><td>${rank.method === 'lower-bound' ? '≥ ' : ''}${rank.rank}</td><td>${rank.unknowns}</td><td>${escapeHtml(`${rank.method}${rank.patch ? ` (a ${rank.patch.height}×${rank.patch.width} centre patch)` : ''}, ${rank.columns} Jᵀu products at ${rank.image}, label ${rank.label}`)}</td><td>${escapeHtml(formatLayerRanks(rank))}</td></tr>`,
      );
    }
    body.push('</table>');
  }
  if (input.attacks?.length) {
    body.push(
      '<h2>Reconstruction attack</h2><p>Each image went through one simulated training step; LeakLint rebuilt it from the gradients alone: in closed form (R-GAP/COPA, layer by layer from the output) where the layer systems determine it, else by gradient matching (Inverting Gradients). Left: the training image; right: what the gradients gave back, and the method that did it.</p>',
    );
    for (const attack of input.attacks) body.push(attackHtml(attack, input.attackFiles, baseDir));
  }
  if (input.failures.length) {
    body.push('<h2>Models that could not be read</h2><ul>');
    for (const failure of input.failures) {
      const { where, reason, code } = failure;
      body.push(
        `<li><code>${escapeHtml(displayPath(failure.file, baseDir))}</code>${where ? ` (${escapeHtml(where)})` : ''}: ${escapeHtml(reason)} (${code})</li>`,
      );
    }
    body.push('</ul>');
  }
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"><title>LeakLint report</title><style>${STYLE}</style></head><body>\n${body.join('\n')}\n</body></html>\n`;
}

function attackHtml(attack: AttackReport, files: ReadonlyMap<string, Uint8Array> | undefined, baseDir: string): string {
  const parts = [`<h3><code>${escapeHtml(displayPath(attack.file, baseDir))}</code></h3>`, `<p class="verdict">${escapeHtml(attack.verdict)}</p>`];
  if (attack.runtimeCheck) {
    parts.push(
      `<p class="muted">onnxruntime-node agrees with the engine's float64 forward pass to ${attack.runtimeCheck.maxAbsDifference.toExponential(1)} (${attack.runtimeCheck.tensorsCompared} tensors).</p>`,
    );
  }
  parts.push('<div class="pairs">');
  for (const image of attack.images) {
    const src = image.files?.sideBySide
      ? inlinePng(files, image.files.sideBySide)
      : image.files?.reconstructed
        ? inlinePng(files, image.files.reconstructed)
        : undefined;
    const label = `${image.recoveredLabel}${image.labelRecovered ? ' ✓' : ` ✗ (was ${image.label})`}`;
    const stop = image.reachedInput && image.stoppedAt ? `<br>closed form stopped: ${escapeHtml(image.stoppedAt.reason)}` : '';
    parts.push(
      `<div class="pair">${src ? `<img alt="${escapeHtml(image.image)}: original and reconstruction" src="${src}" width="280">` : ''}<b>${escapeHtml(image.image)}</b><br>PSNR ${formatDecibels(image.quality?.clipped.psnr)} · SSIM ${formatSsim(image.quality?.clipped.ssim)}<br>method: ${escapeHtml(describeImageMethod(image))}<br>label ${escapeHtml(label)} · ${image.seconds.total.toFixed(2)} s${stop}</div>`,
    );
  }
  parts.push('</div>');
  return parts.join('\n');
}

/** The PNG the attack produced under that name, as a data URI: the report is one self-contained file. */
function inlinePng(files: ReadonlyMap<string, Uint8Array> | undefined, relative: string): string | undefined {
  const bytes = files?.get(relative);
  return bytes ? `data:image/png;base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}` : undefined;
}
