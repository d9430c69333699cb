// The Layer View: the model's verdict and metrics, and a layer table coloured by risk with the severity written out.
// Rows are reachable by keyboard (Tab into the table, arrows/Home/End to move, Enter or Space to select) and carry an
// ARIA label; the focused or clicked row shows its details. The host can select and reveal a row (state.selected,
// with state.reveal changing per request); the view reports the selected row back. Data arrives display-ready.
import type { HostToView, TableRow, TableState } from '../src/shared/webviewProtocol';
import { button, element, initialState, type VsCodeApi } from './dom';

function details(row: TableRow) {
  const lines = [
    `${row.name} — ${row.description}`,
    `risk ${row.risk.toFixed(2)} (${row.severity}) · ${row.status} · ${row.ruleId}`,
    `unknowns ${row.unknowns} · equations ${row.equations} · ranks K/W/U ${row.ranks} · deficiency ${row.deficiency}`,
    ...(row.jacobianRank !== undefined ? [`gradients carry the image: rank ${row.jacobianRank} of J restricted to this layer's parameters`] : []),
    row.reason,
    ...row.fixes.map((f) => `fix: ${f}`),
  ];
  const box = element('div', { className: 'details', text: lines.join('\n') });
  box.id = 'layer-details';
  box.setAttribute('aria-live', 'polite');
  return box;
}

function progressBlock(progress: NonNullable<TableState['progress']>, label: string) {
  const bar = element('progress');
  // Before the worker reports a step the bar is indeterminate (no value).
  if (progress.total > 1 || progress.done > 0) {
    bar.max = Math.max(1, progress.total);
    bar.value = progress.done;
  }
  bar.setAttribute('aria-label', label);
  const step = progress.total > 1 ? ` ${progress.label} (${progress.done}/${progress.total})` : ` ${progress.label}`;
  return element('div', { className: 'progress' }, bar, element('span', { text: `${label}:${step}` }));
}

/** Columns: header, cell text, class (the narrow layout hides op and shapes, never risk or rule). */
const COLUMNS: [string, (row: TableRow) => string, string][] = [
  ['#', (r) => String(r.index), 'col-index'],
  ['layer', (r) => r.name, 'col-name'],
  ['op', (r) => r.description, 'col-op'],
  ['input → output', (r) => r.shapes, 'col-shapes'],
  ['risk', (r) => `${r.risk.toFixed(2)} ${r.severity}`, 'risk'],
  ['status', (r) => r.status, 'col-status'],
  ['rule', (r) => r.ruleId, 'col-rule'],
  // The rank of the gradients' Jacobian restricted to the layer's parameters: how much of the image its gradients carry.
  ['J rank', (r) => r.jacobianRank ?? '', 'col-jacobian-rank'],
];

function render(root: HTMLElement, api: VsCodeApi, state: TableState, previous: TableState | undefined) {
  const header = element('header', {}, element('h2', { text: state.modelName }));
  const controls = element('div', { className: 'controls' });
  if (state.trusted && state.phase === 'done') controls.append(button(api, 'Run attack', { type: 'runAttack' }, 'run-attack'));
  controls.append(button(api, 'Open layer document', { type: 'openLayerDocument' }, 'open-layer-document'));
  header.append(controls);
  const body: Node[] = [header];
  const s = state.summary;
  if (s) {
    body.push(
      element('p', { className: `verdict ${s.severity}`, text: `${s.verdict}: ${s.headline}` }),
      element('p', {
        className: 'metrics',
        text: `COPA ${s.copa} · RA-i ${s.raIndex} · ${s.format}, ${s.weights} weights, input ${s.inputShape}; ${s.coverage}`,
      }),
      ...(s.identifiability ? [element('p', { className: 'metrics identifiability', text: `gradient matching: ${s.identifiability}` })] : []),
      ...s.warnings.map((w) => element('p', { className: 'warning', text: `warning: ${w}` })),
    );
  }
  if (state.progress) body.push(progressBlock(state.progress, state.phase === 'analysing' ? 'Analysing' : 'Analysing again'));
  if (!state.trusted && state.restrictedReason) {
    body.push(
      element(
        'p',
        { className: 'message restricted', text: state.restrictedReason },
        button(api, 'Manage Workspace Trust', { type: 'manageTrust' }, 'manage-trust'),
      ),
    );
  }
  if (state.message) body.push(element('p', { className: `message ${state.phase}`, text: state.message }));
  if (state.rows) body.push(...table(root, api, state));
  // A re-render (progress, a new analysis) keeps the keyboard focus on the row that had it.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.index;
  root.replaceChildren(...body);
  if (focused !== undefined) {
    const again = root.querySelector<HTMLElement>(`tr[data-index="${focused}"]`);
    if (again) {
      root.querySelectorAll<HTMLElement>('tbody tr').forEach((tr) => (tr.tabIndex = -1));
      again.tabIndex = 0;
      again.focus({ preventScroll: true });
    }
  }
  root.dataset.phase = state.phase;
  // A new reveal request (or a first render with a selection): scroll to the row and give it the focus.
  const selectedRow = state.selected !== undefined ? root.querySelector<HTMLElement>(`tr[data-index="${state.selected}"]`) : null;
  if (selectedRow && state.reveal !== previous?.reveal) {
    selectedRow.scrollIntoView({ block: 'center' });
    selectedRow.focus();
    api.postMessage({ type: 'selected', index: state.selected! });
  }
}

function table(root: HTMLElement, api: VsCodeApi, state: TableState): Node[] {
  const rows = state.rows ?? [];
  const selectedRow = rows.find((r) => r.index === state.selected);
  const detailBox = selectedRow
    ? details(selectedRow)
    : element('div', { className: 'details', text: 'Select a layer (click, or Tab then arrow keys and Enter) for its details.' });
  detailBox.id = 'layer-details';
  const grid = element('table', { className: 'layers' });
  grid.setAttribute('role', 'grid');
  grid.setAttribute('aria-readonly', 'true');
  grid.setAttribute('aria-label', `Layers of ${state.modelName}, by risk of their input being recovered`);
  const head = element('tr');
  // The J rank column only where the rank was measured (not in Restricted Mode, nor with identifiability off).
  const columns = rows.some((r) => r.jacobianRank !== undefined) ? COLUMNS : COLUMNS.filter(([, , cls]) => cls !== 'col-jacobian-rank');
  for (const [title, , cls] of columns) head.append(element('th', { text: title, className: cls }));
  grid.append(element('thead', {}, head));
  const tbody = element('tbody');
  const trs: HTMLTableRowElement[] = [];
  const select = (tr: HTMLTableRowElement, row: TableRow) => {
    for (const other of trs) {
      other.classList.remove('selected');
      other.setAttribute('aria-selected', 'false');
    }
    tr.classList.add('selected');
    tr.setAttribute('aria-selected', 'true');
    root.querySelector('#layer-details')?.replaceWith(details(row));
    api.setState({ ...state, selected: row.index });
    api.postMessage({ type: 'selected', index: row.index });
  };
  const focusRow = (i: number) => {
    const target = trs[Math.max(0, Math.min(trs.length - 1, i))];
    for (const tr of trs) tr.tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  };
  rows.forEach((row, i) => {
    const tr = element('tr', { className: row.severity });
    tr.dataset.layer = row.name;
    tr.dataset.index = String(row.index);
    const isSelected = row.index === state.selected;
    // One row is in the Tab order (the selected one, else the first); arrows move between rows.
    tr.tabIndex = isSelected || (!selectedRow && i === 0) ? 0 : -1;
    tr.setAttribute('aria-selected', String(isSelected));
    tr.setAttribute('aria-label', `${row.name}, ${row.description}, risk ${row.risk.toFixed(2)}, ${row.severity} severity, ${row.status}, rule ${row.ruleId}`);
    if (isSelected) tr.classList.add('selected');
    for (const [, text, cls] of columns) tr.append(element('td', { text: text(row), className: cls }));
    tr.addEventListener('mouseenter', () => !root.querySelector('tr.selected') && root.querySelector('#layer-details')?.replaceWith(details(row)));
    tr.addEventListener('click', () => {
      focusRow(i);
      select(tr, row);
    });
    tr.addEventListener('keydown', (event) => {
      const moves: Record<string, number> = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: trs.length - 1, PageDown: i + 10, PageUp: i - 10 };
      if (event.key in moves) focusRow(moves[event.key]);
      else if (event.key === 'Enter' || event.key === ' ') select(tr, row);
      else return;
      event.preventDefault();
    });
    tr.addEventListener('focus', () => !root.querySelector('tr.selected') && root.querySelector('#layer-details')?.replaceWith(details(row)));
    trs.push(tr);
    tbody.append(tr);
  });
  grid.append(tbody);
  return [element('div', { className: 'table-scroll' }, grid), detailBox];
}

export function mountLayerTable(root: HTMLElement, api: VsCodeApi) {
  let current = initialState<TableState>(root, api);
  if (current) render(root, api, current, undefined);
  window.addEventListener('message', (event: MessageEvent<HostToView>) => {
    if (event.data?.type !== 'table') return;
    const next = event.data.state;
    api.setState(next);
    render(root, api, next, current);
    current = next;
  });
}
