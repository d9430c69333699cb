// The ONNX custom editor's view: model metrics and a layer table coloured by risk; hovering or clicking a row shows
// the layer's details; "Run attack" and "Open layer document" ask the host. Data arrives display-ready.
import type { HostToView, TableRow, TableState } from '../src/shared/webviewProtocol';
import { button, element, initialState, type VsCodeApi } from './dom';

function details(row: TableRow) {
  const lines = [
    `${row.name} — ${row.description}`,
    `risk ${row.risk.toFixed(2)} (${row.severity}) · ${row.status} · ${row.ruleId}`,
    `unknowns ${row.unknowns} · equations ${row.equations} · ranks K/W/U ${row.ranks} · deficiency ${row.deficiency}`,
    row.reason,
    ...row.fixes.map((f) => `fix: ${f}`),
  ];
  return element('div', { className: 'details', text: lines.join('\n') });
}

function render(root: HTMLElement, api: VsCodeApi, state: TableState) {
  const header = element('header', {}, element('h2', { text: state.modelName }));
  const controls = element('div', { className: 'controls' });
  if (state.trusted && state.phase === 'done') controls.append(button(api, 'Run attack', { type: 'runAttack' }, 'run-attack'));
  controls.append(button(api, 'Open layer document', { type: 'openLayerDocument' }, 'open-layer-document'));
  header.append(controls);
  const body: Node[] = [header];
  if (state.phase === 'analysing') body.push(element('p', { text: 'Analysing…' }));
  if (state.message) body.push(element('p', { className: `message ${state.phase}`, text: state.message }));
  const s = state.summary;
  if (s) {
    body.push(
      element('p', {
        className: `verdict ${s.severity}`,
        text: `${s.severity.toUpperCase()} risk (${s.risk}): ${s.headline}`,
      }),
      element('p', { className: 'metrics', text: `COPA ${s.copa} · RA-i ${s.raIndex}` }),
      element('p', { className: 'metrics', text: `${s.format}, ${s.weights} weights, input ${s.inputShape}; ${s.coverage}` }),
      ...s.warnings.map((w) => element('p', { className: 'warning', text: `warning: ${w}` })),
    );
  }
  if (state.rows) {
    const detailBox = element('div', { className: 'details', text: 'Hover or click a layer for details.' });
    const table = element('table', { className: 'layers' });
    const head = element('tr');
    for (const h of ['#', 'layer', 'op', 'input → output', 'risk', 'status', 'rule']) head.append(element('th', { text: h }));
    table.append(element('thead', {}, head));
    const tbody = element('tbody');
    let selected: HTMLElement | undefined;
    for (const row of state.rows) {
      const tr = element('tr', { className: row.severity });
      tr.dataset.layer = row.name;
      for (const [text, cls] of [
        [String(row.index)],
        [row.name],
        [row.description],
        [row.shapes],
        [row.risk.toFixed(2), 'risk'],
        [row.status],
        [row.ruleId],
      ] as [string, string?][]) {
        tr.append(element('td', { text, className: cls }));
      }
      tr.addEventListener('mouseenter', () => !selected && showDetails(root, row));
      tr.addEventListener('click', () => {
        selected?.classList.remove('selected');
        selected = tr;
        tr.classList.add('selected');
        showDetails(root, row);
      });
      tbody.append(tr);
    }
    table.append(tbody);
    detailBox.id = 'layer-details';
    body.push(table, detailBox);
  }
  root.replaceChildren(...body);
  root.dataset.phase = state.phase;
}

function showDetails(root: HTMLElement, row: TableRow) {
  const box = details(row);
  box.id = 'layer-details';
  root.querySelector('#layer-details')?.replaceWith(box);
}

export function mountLayerTable(root: HTMLElement, api: VsCodeApi) {
  const first = initialState<TableState>(root, api);
  if (first) render(root, api, first);
  window.addEventListener('message', (event: MessageEvent<HostToView>) => {
    if (event.data?.type !== 'table') return;
    api.setState(event.data.state);
    render(root, api, event.data.state);
  });
}
