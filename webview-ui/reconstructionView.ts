// The reconstruction view: renders the state the extension host posts (progress; while gradient matching runs, its
// loss curve and the current image; each sample image beside its reconstruction with the method that made it,
// PSNR/SSIM and the recovered label, a per-layer residual/error chart, the verdict) and sends back "run" and
// "cancel". Images are webview resource URIs or small data: PNGs; it never touches files.
import type { HostToView, ViewImage, ViewLive, ViewMethod, ViewState } from '../src/shared/webviewProtocol';
import { button, element, initialState, type VsCodeApi } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatPsnr(psnr: number | null | undefined): string {
  if (psnr === undefined) return '-';
  return psnr === null ? '∞ (exact)' : `${psnr.toFixed(1)} dB`;
}

/** The chart's log scale: from FLOOR (float64 round-off, an exact solve) to 1 (nothing recovered). */
const FLOOR_EXPONENT = -16;
const TICKS = [-16, -12, -8, -4, 0];
/** Minimum bar width in px, so that a value at the floor is still a visible bar, not a hairline. */
const MIN_BAR = 3;

function formatValue(v: number): string {
  if (v < 10 ** FLOOR_EXPONENT) return `<1e${FLOOR_EXPONENT}`;
  return v.toExponential(1);
}

/**
 * Per-layer bars on a log scale (1e-16 … 1, ticks every 4 decades): the relative residual of the solve, and the
 * error against the true layer input when known. Labels sit in their own column left of the bars (sized to the
 * longest name), values right of them.
 */
function layerChart(image: ViewImage): SVGSVGElement {
  const rowHeight = 20;
  const charWidth = 6.6; // 11 px UI font
  const longest = Math.max(4, ...image.layers.map((l) => l.name.length));
  const labelWidth = Math.min(200, Math.ceil(longest * charWidth) + 8);
  const barWidth = 200;
  const valueWidth = 64;
  const top = 4;
  const axisHeight = 16;
  const legendHeight = 18;
  const height = top + rowHeight * image.layers.length + axisHeight + legendHeight;
  const width = labelWidth + barWidth + valueWidth;
  // Scales down with the panel (viewBox) instead of being cut off.
  const chart = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    width,
    role: 'img',
    'aria-label': `Per-layer relative residual and error for ${image.name}, log scale from 1e${FLOOR_EXPONENT} to 1`,
  });
  const x = (exponent: number) => labelWidth + ((exponent - FLOOR_EXPONENT) / -FLOOR_EXPONENT) * barWidth;
  const barLength = (v: number) => Math.max(MIN_BAR, x(Math.min(0, Math.max(FLOOR_EXPONENT, Math.log10(Math.max(v, 1e-300))))) - labelWidth);
  const axisY = top + rowHeight * image.layers.length;
  for (const tick of TICKS) {
    chart.append(svg('line', { x1: x(tick), x2: x(tick), y1: top, y2: axisY + 3, class: 'chart-grid' }));
    chart.append(svg('text', { x: x(tick), y: axisY + 13, class: 'chart-tick', 'text-anchor': 'middle' }, tick === 0 ? '1' : `1e${tick}`));
  }
  image.layers.forEach((layer, i) => {
    const y = top + i * rowHeight;
    chart.append(svg('text', { x: labelWidth - 6, y: y + 13, class: 'chart-label', 'text-anchor': 'end' }, layer.name));
    chart.append(svg('rect', { x: labelWidth, y: y + 3, width: barLength(layer.relativeResidual), height: 6, class: 'bar-residual' }));
    if (layer.relativeError !== undefined)
      chart.append(svg('rect', { x: labelWidth, y: y + 10, width: barLength(layer.relativeError), height: 6, class: 'bar-error' }));
    const value = layer.relativeError !== undefined ? layer.relativeError : layer.relativeResidual;
    chart.append(svg('text', { x: labelWidth + barWidth + 6, y: y + 13, class: 'chart-label' }, formatValue(value)));
  });
  const legendY = height - 4;
  chart.append(svg('rect', { x: labelWidth, y: legendY - 8, width: 10, height: 8, class: 'bar-residual' }));
  chart.append(svg('text', { x: labelWidth + 14, y: legendY, class: 'chart-label' }, 'solve residual'));
  chart.append(svg('rect', { x: labelWidth + 100, y: legendY - 8, width: 10, height: 8, class: 'bar-error' }));
  chart.append(svg('text', { x: labelWidth + 114, y: legendY, class: 'chart-label' }, 'error vs. true input'));
  return chart;
}

const METHOD_NAMES: Record<ViewMethod, string> = {
  'closed-form': 'closed form',
  'gradient-matching': 'gradient matching (Inverting Gradients)',
  hybrid: 'hybrid (closed form, then gradient matching)',
};

/** A loss curve: log10 of the objective against the step, scaled to its own range. */
function lossCurve(points: [number, number][], iterations: number, label: string): SVGSVGElement {
  const width = 240;
  const height = 90;
  const pad = 4;
  const chart = svg('svg', { class: 'chart loss-curve', viewBox: `0 0 ${width} ${height}`, width, role: 'img', 'aria-label': label });
  const finite = points.filter(([, loss]) => loss > 0 && Number.isFinite(loss));
  if (finite.length === 0) return chart;
  const logs = finite.map(([, loss]) => Math.log10(loss));
  const low = Math.min(...logs);
  const high = Math.max(...logs);
  const span = high - low || 1;
  const x = (step: number) => pad + (step / Math.max(1, iterations)) * (width - 2 * pad);
  const y = (log: number) => pad + ((high - log) / span) * (height - 2 * pad - 12);
  const path = finite.map(([step], i) => `${x(step).toFixed(1)},${y(logs[i]).toFixed(1)}`).join(' ');
  chart.append(svg('polyline', { points: path, class: 'loss-line', fill: 'none' }));
  chart.append(svg('text', { x: pad, y: height - 2, class: 'chart-label' }, `loss ${finite[finite.length - 1][1].toExponential(2)} (log scale)`));
  return chart;
}

function liveSection(live: ViewLive) {
  const from = live.start === 'closed-form' ? "from the closed form's image" : 'from noise';
  const text = `Gradient matching on ${live.image}: run ${live.run + 1}/${live.runs} ${from}, step ${live.iteration}/${live.iterations}, loss ${live.loss.toExponential(2)}`;
  const current = live.previewSrc ? figure('current image', live.previewSrc, `${live.image} current reconstruction`) : figure('current image', undefined, '');
  return element(
    'section',
    { className: 'live' },
    element('p', { className: 'live-status', text }),
    element('div', { className: 'row' }, current, lossCurve(live.points, live.iterations, `loss curve of run ${live.run + 1}`)),
  );
}

function figure(caption: string, src: string | undefined, alt: string) {
  if (!src) return element('figure', {}, element('div', { className: 'missing', text: 'not reached' }), element('figcaption', { text: caption }));
  const img = element('img');
  img.src = src;
  img.alt = alt;
  return element('figure', {}, img, element('figcaption', { text: caption }));
}

function imageRow(image: ViewImage) {
  const label = image.labelRecovered ? `label ${image.recoveredLabel} (recovered)` : `label ${image.label}, recovered ${image.recoveredLabel}`;
  const metrics = image.reachedInput
    ? `PSNR ${formatPsnr(image.psnr)} · SSIM ${image.ssim !== undefined ? image.ssim.toFixed(3) : '-'} · ${label}`
    : `chain broken: ${image.stoppedReason ?? 'input not reached'} · ${label}`;
  const matching = image.matching;
  const how = [
    image.method ? `method: ${METHOD_NAMES[image.method]}` : 'no method reached the image',
    ...(matching
      ? [
          `gradient matching ${matching.iterations} steps in ${matching.runs} run${matching.runs === 1 ? '' : 's'}${matching.cutShort ? ' (cut short by the time budget)' : ''}, ${matching.seconds.toFixed(1)} s`,
        ]
      : []),
    ...(image.stoppedReason && image.reachedInput ? [`closed form stopped: ${image.stoppedReason}`] : []),
    `${image.seconds.toFixed(1)} s in all`,
  ].join(' · ');
  const charts: Node[] = [];
  if (image.layers.length) charts.push(layerChart(image));
  if (matching)
    charts.push(
      lossCurve(
        matching.curve.map((loss, i): [number, number] => [i * matching.curveStride, loss]),
        Math.max(1, (matching.curve.length - 1) * matching.curveStride),
        `gradient-matching loss curve for ${image.name}`,
      ),
    );
  return element(
    'section',
    { className: 'sample' },
    element('h3', { text: image.name }),
    element(
      'div',
      { className: 'row' },
      figure('original', image.originalSrc, `${image.name} original`),
      figure('reconstructed', image.reconstructedSrc, `${image.name} reconstructed`),
      ...charts,
    ),
    element('p', { className: 'metrics', text: metrics }),
    element('p', { className: 'metrics method', text: how }),
  );
}

function render(root: HTMLElement, api: VsCodeApi, state: ViewState) {
  const header = element('header', {}, element('h2', { text: `Reconstructions: ${state.modelName}` }));
  const controls = element('div', { className: 'controls' });
  if (state.phase === 'running') controls.append(button(api, 'Cancel', { type: 'cancel' }, 'cancel'));
  else if (state.phase === 'restricted') controls.append(button(api, 'Manage Workspace Trust', { type: 'manageTrust' }, 'manage-trust'));
  else controls.append(button(api, state.phase === 'idle' ? 'Run attack' : 'Run again', { type: 'run' }, 'run'));
  header.append(controls);
  const body: Node[] = [header];
  if (state.phase === 'running' && state.progress) {
    const bar = element('progress');
    bar.max = Math.max(1, state.progress.total);
    bar.value = state.progress.done;
    body.push(
      element('div', { className: 'progress' }, bar, element('span', { text: ` ${state.progress.label} (${state.progress.done}/${state.progress.total})` })),
    );
  }
  if (state.phase === 'running' && state.live) body.push(liveSection(state.live));
  if (state.shared) {
    const against = state.shared.imageName ? `, measured against ${state.shared.imageName}` : ', no original image to measure against';
    body.push(element('p', { className: 'metrics', text: `Gradients a client shared: ${state.shared.gradientsName}${against}` }));
  }
  if (state.method) body.push(element('p', { className: 'metrics', text: `Attack method: ${state.method}` }));
  if (state.message) body.push(element('p', { className: `message ${state.phase}`, text: state.message }));
  if (state.verdict) body.push(element('p', { className: 'verdict', text: state.verdict }));
  for (const image of state.images ?? []) body.push(imageRow(image));
  for (const warning of state.warnings ?? []) body.push(element('p', { className: 'warning', text: `warning: ${warning}` }));
  root.replaceChildren(...body);
  root.dataset.phase = state.phase;
}

export function mountReconstructions(root: HTMLElement, api: VsCodeApi) {
  const first = initialState<ViewState>(root, api);
  if (first) render(root, api, first);
  window.addEventListener('message', (event: MessageEvent<HostToView>) => {
    if (event.data?.type !== 'state') return;
    api.setState(event.data.state);
    render(root, api, event.data.state);
  });
}
