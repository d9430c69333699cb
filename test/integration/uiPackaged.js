// UI test of the packaged extension: code-server runs with the .vsix installed (not the source folder), and
// headless Chromium drives the workbench like a user, with no LeakLint command run first: the LeakLint view fills
// in by itself; a Problems click on an ONNX finding lands on its layer; Ctrl+. on a model.json finding shows the code
// actions; model.onnx opens in the Layer View and a layer is selected by keyboard; the walkthrough opens; "LeakLint:
// Show Reconstructions" shows its images and chart. Screenshots go to test-output/ (gitignored); any console error
// from a webview or any Content-Security-Policy violation fails the test.
// With --restricted the window declines workspace trust: the Layer View must work, offer no attack but say why with a
// link to manage trust, and the hover must not offer "Show reconstruction".
// Usage (from run.sh): CS_HOST=127.0.0.1:PORT node uiPackaged.js <workspace folder> <screenshot folder> [--restricted]
// Exit code: 0 passed, 1 failed (the reason on stderr and a failure screenshot).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const HOST = process.env.CS_HOST || '127.0.0.1:8080';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const [folder, shots] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map((p) => p && path.resolve(p));
const STEP_MS = 180_000; // the background analyses take the exact Jacobian rank of each 3×32×32 model first (15-25 s each)
/** The repository's command line, built with the extension: the reference the UI's verdicts are checked against. */
const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
/** --restricted: the window declines workspace trust; checks what Restricted Mode still offers. */
const RESTRICTED = process.argv.includes('--restricted');

/** Webview console lines that mean a broken view: CSP refusals, script errors, or our own reports. */
const isWebviewProblem = (text, url) =>
  /Content Security Policy|Refused to (load|execute|apply|connect)|\[leaklint-webview\]/.test(text) || /vscode-cdn|vscode-webview|webview\.js/.test(url || '');

/**
 * Runs a command from the palette. Retried for up to 60 s: a command can be missing for a moment after an editor
 * opens (e.g. "Reopen Editor With…" until the editor's alternative editors are known).
 */
async function runCommand(page, title) {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const start = Date.now();
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ timeout: 5_000 });
      return page.keyboard.press('Enter');
    } catch (e) {
      if (Date.now() - start > 60_000) throw e;
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1000);
    }
  }
}

/** Quick Open (Ctrl+P) a file by its path relative to the folder, opening it in its default editor. */
async function openQuickly(page, relative) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(relative);
  // Rows show the name and the folder apart ("model.json  tfjs"); the best match is first.
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: path.basename(relative) })
    .first()
    .waitFor({ timeout: 10_000 });
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

/** Ctrl+G to `line:column` (1-based) in the active text editor. */
async function goTo(page, position) {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`:${position}`);
  // Enter before the picker has read the line number does nothing, and the picker then swallows the next keys.
  const [line, column] = String(position).split(':');
  await page.locator('.quick-input-widget', { hasText: `go to line ${line}` }).waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
  await page.locator('.statusbar', { hasText: `Ln ${line}, Col ${column ?? 1}` }).waitFor({ timeout: 10_000 });
}

/** Hovers the mouse over `token` in the active editor and returns the text of the LeakLint hover that shows. */
async function showHover(page, token) {
  const target = page.locator('.editor-instance .monaco-editor .view-line span span', { hasText: token }).first();
  const hover = page.locator('.monaco-hover', { hasText: 'Risk' }).first();
  const shown = () =>
    hover.waitFor({ timeout: 4000 }).then(
      () => true,
      () => false,
    );
  for (let attempt = 0; attempt < 10; attempt++) {
    await target.hover();
    if (await shown()) return hover.textContent();
    await page.mouse.move(5, 5); // away, then over it again
  }
  throw new Error(`no LeakLint hover over ${token}`);
}

/** Drags the side bar's edge so that it is `width` px wide (long tree rows then show their descriptions). */
async function widenSideBar(page, width) {
  const box = await page.locator('.part.sidebar').boundingBox();
  if (!box) return;
  const edge = box.x + box.width;
  // The sash between the side bar and the editor: the vertical one nearest to the side bar's right edge.
  const sashes = await page.locator('.monaco-sash.vertical').evaluateAll((nodes) =>
    nodes.map((n) => {
      const r = n.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2, height: r.height };
    }),
  );
  const sash = sashes.filter((s) => s.height > 100).sort((a, b) => Math.abs(a.x - edge) - Math.abs(b.x - edge))[0];
  if (!sash || Math.abs(sash.x - edge) > 10) return;
  await page.mouse.move(sash.x, sash.y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, sash.y, { steps: 10 });
  await page.mouse.up();
}

/** Polls `check` until it is true. */
async function waitUntil(page, check, what, ms = STEP_MS) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(500);
  }
}

/** Picks `label` in an open quick pick. */
async function pick(page, label) {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(label);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** The webview frame whose document matches `selector` (webviews are nested iframes). */
async function webviewFrame(page, selector, ms = STEP_MS) {
  const start = Date.now();
  while (Date.now() - start < ms) {
    for (const frame of page.frames()) {
      try {
        if (await frame.$(selector)) return frame;
      } catch {
        // a frame that went away while we looked
      }
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no webview showed ${selector} within ${ms / 1000} s`);
}

async function main() {
  if (!folder || !shots) throw new Error('usage: uiPackaged.js <workspace folder> <screenshot folder>');
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ])
    process.on(signal, () => browser.close().finally(() => process.exit(code)));
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const problems = [];
  page.on('console', (message) => {
    const { url } = message.location();
    if ((message.type() === 'error' || /Refused to/.test(message.text())) && isWebviewProblem(message.text(), url))
      problems.push(`${message.type()}: ${message.text()} (${url})`);
  });
  page.on('pageerror', (error) => /webview/.test(error.stack || '') && problems.push(`page error: ${error.message}`));
  try {
    await page.goto(`http://${HOST}/?folder=${encodeURIComponent(folder)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: STEP_MS });
    await page.locator('.statusbar').waitFor({ timeout: STEP_MS });
    if (RESTRICTED) {
      // An untrusted folder opens in Restricted Mode; if the trust dialog asks first, decline.
      const restricted = page.locator('.statusbar', { hasText: 'Restricted Mode' });
      const decline = page.getByRole('button', { name: /No, I don.t trust/ });
      await Promise.race([restricted.waitFor({ timeout: STEP_MS }), decline.click({ timeout: STEP_MS }).catch(() => undefined)]);
      await restricted.waitFor({ timeout: 10_000 });
    }

    // model.json's conv_2 name, where its findings are underlined (Ctrl+G takes line:column, 1-based).
    const modelJson = fs.readFileSync(path.join(folder, 'tfjs', 'model.json'), 'utf8');
    const nameAt = modelJson.indexOf('"name": "conv_2"') + '"name": "'.length;
    const before = modelJson.slice(0, nameAt).split('\n');
    const conv2 = `${before.length}:${before[before.length - 1].length + 2}`;

    if (RESTRICTED) {
      // Restricted Mode: the Layer View opens by default and works, says why there is no attack, links to trust.
      await openQuickly(page, 'model.onnx');
      const table = await webviewFrame(page, '#root[data-view="layers"][data-phase="done"] table.layers tbody tr');
      if (await table.$('#run-attack')) throw new Error('the layer view offers "Run attack" in Restricted Mode');
      const reason = await table.textContent('.message.restricted');
      if (!/Restricted Mode/.test(reason || '') || !(await table.$('#manage-trust'))) throw new Error(`no reason or trust link: ${reason}`);
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(shots, 'restricted-layer-view.png') });
      // The hover on a model.json layer: no "Show reconstruction", but why.
      await openQuickly(page, 'tfjs/model.json');
      await goTo(page, conv2);
      const hover = await showHover(page, '"conv_2"');
      if (/Show reconstruction/.test(hover) || !/Restricted Mode/.test(hover)) throw new Error(`the hover in Restricted Mode says: ${hover}`);
      if (problems.length) throw new Error(`webview console errors or CSP violations:\n  ${problems.join('\n  ')}`);
      console.log('uiPackaged: Restricted Mode: analysis shown, no attack offered, the reason and a trust link instead');
      return 0;
    }

    // The LeakLint view fills in by itself (no command run): models with their verdicts; expand the leakiest.
    await runCommand(page, 'View: Show LeakLint');
    await widenSideBar(page, 560);
    const tree = page.locator('.pane-body .monaco-list[aria-label*="Models"], .pane-body .monaco-tl-tree').first();
    const cnn6 = page.locator('.monaco-list-row', { hasText: 'cnn6.onnx' }).first();
    await cnn6.waitFor({ timeout: STEP_MS * 2 });
    await page
      .locator('.monaco-list-row', { hasText: 'model.json' })
      .first()
      .waitFor({ timeout: STEP_MS * 2 });
    await waitUntil(page, async () => (await page.locator('.monaco-list-row', { hasText: 'risk' }).count()) >= 4, 'verdicts in the LeakLint view');
    if (!/HIGH risk/.test(await cnn6.textContent())) throw new Error(`cnn6.onnx in the LeakLint view: ${await cnn6.textContent()}`);
    // A click on a row opens the model (its command); the twistie expands it.
    await cnn6.locator('.monaco-tl-twistie').click();
    await page.locator('.monaco-list-row', { hasText: 'LL010' }).first().waitFor({ timeout: 10_000 });
    await page.locator('.monaco-list-row', { hasText: 'conv_1' }).first().locator('.monaco-tl-twistie').click();
    await page.locator('.monaco-list-row', { hasText: 'Proposed:' }).first().waitFor({ timeout: 10_000 });
    // A click on a layer row opens the model's Layer View with that layer selected.
    await page.locator('.monaco-list-row', { hasText: 'conv_2' }).first().locator('.label-name').click();
    const fromTree = await webviewFrame(page, '#root[data-view="layers"][data-phase="done"] tr.selected[data-layer="conv_2"]');
    if (!fromTree) throw new Error('the Layer View did not select conv_2');
    await page.mouse.move(5, 400);
    await page.waitForTimeout(500);
    await tree.waitFor({ timeout: 1000 }).catch(() => undefined);
    await page.screenshot({ path: path.join(shots, 'leaklint-view.png') });
    console.log('uiPackaged: the LeakLint view lists the models with their verdicts');

    // Problems: a click on model.onnx's conv_2 finding opens its layer document with the layer's name selected.
    await runCommand(page, 'View: Focus Problems (Errors, Warnings, Infos)');
    const filter = page.getByPlaceholder(/^Filter \(e\.g\./);
    await filter.fill('conv_2: 20 filters'); // cnn6d's conv_2: model.onnx and the two model.json files
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'model.onnx.layers' }).first().waitFor({ timeout: STEP_MS });
    const rows = await page.locator('.markers-panel .monaco-list-row').allTextContents();
    const layerDocRow = rows.findIndex((t) => t.includes('model.onnx.layers'));
    const target = rows.findIndex((t, i) => i > layerDocRow && /conv_2: /.test(t) && /LL002/.test(t));
    if (layerDocRow < 0 || target < 0) throw new Error(`no conv_2 finding under model.onnx.layers in Problems:\n${rows.join('\n')}`);
    await page.locator('.markers-panel .monaco-list-row').nth(target).click();
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab.active', { hasText: 'model.onnx.layers' }).waitFor({ timeout: 20_000 });
    // conv_2 is layer 1: line 7 of the layer document (5 header lines), its name selected.
    await page.locator('.statusbar', { hasText: /Ln 7, Col \d+ \(6 selected\)/ }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(shots, 'problems-navigation.png') });
    await filter.fill('');
    await page.keyboard.press('Control+J'); // hide the panel again
    console.log("uiPackaged: a Problems click on an ONNX finding lands on the layer's line in the layer document");
    await runCommand(page, 'View: Close All Editors');

    // Ctrl+. on model.json's conv_2: the code actions.
    await openQuickly(page, 'tfjs/model.json');
    await goTo(page, conv2);
    await page.waitForTimeout(1500); // the diagnostics and code action providers answer
    await page.keyboard.press('Control+Period');
    const menu = page.locator('.action-widget', { hasText: 'turn LL002 off' });
    await menu.waitFor({ timeout: 20_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(shots, 'code-actions.png') });
    await page.keyboard.press('Escape');
    console.log('uiPackaged: Ctrl+. on a finding shows the LeakLint code actions');
    await runCommand(page, 'View: Close All Editors');

    await page.keyboard.press('Control+B'); // hide the side bar: the editors get the room
    // model.onnx opens in the Layer View (the default editor); a layer is selected with the keyboard alone.
    await openQuickly(page, 'model.onnx');
    const table = await webviewFrame(page, '#root[data-view="layers"][data-phase="done"] table.layers tbody tr');
    await table.focus('#open-layer-document');
    await page.keyboard.press('Tab'); // into the table: its first row
    const focused = () => table.evaluate(() => globalThis.document.activeElement && globalThis.document.activeElement.dataset.layer);
    if ((await focused()) !== 'conv_1') throw new Error(`Tab should reach the first layer row, focus is on ${await focused()}`);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await table.locator('tr.selected[data-layer="conv_2"][aria-selected="true"]').waitFor({ timeout: 10_000 });
    await table.locator('#layer-details', { hasText: 'conv_2' }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(shots, 'layer-view.png') });
    console.log('uiPackaged: the Layer View opens by default; a layer is selected by keyboard');

    // One verdict on every surface: the Layer View's header and the status bar say what the CLI's JSON report says.
    const cliReport = JSON.parse(
      execFileSync(process.execPath, [CLI, 'audit', 'model.onnx', '--format', 'json', '--quiet', '--fail-on', 'none'], {
        cwd: folder,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const { verdict: cliVerdict } = cliReport.reports[0].model;
    const header = (await table.textContent('.verdict')) || '';
    if (!header.startsWith(`${cliVerdict.severity.toUpperCase()} risk (${cliVerdict.risk.toFixed(2)}): `) || !header.includes(cliVerdict.headline))
      throw new Error(`the Layer View's header "${header}" differs from the CLI's verdict ${JSON.stringify(cliVerdict)}`);
    const statusItem = page.locator('.statusbar-item', { hasText: 'LeakLint:' }).first();
    await statusItem.waitFor({ timeout: 10_000 });
    const status = (await statusItem.textContent()) || '';
    if (!status.includes(`LeakLint: ${cliVerdict.severity} risk`)) throw new Error(`the status bar says "${status}", the CLI ${cliVerdict.severity}`);
    console.log(`uiPackaged: the Layer View header and the status bar agree with the CLI's JSON (${cliVerdict.severity})`);

    // The walkthrough.
    await runCommand(page, 'Welcome: Open Walkthrough...');
    await pick(page, 'Get started with LeakLint');
    await page.locator('.gettingStartedContainer', { hasText: 'Run the attack' }).waitFor({ timeout: STEP_MS });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(shots, 'walkthrough.png') });
    console.log('uiPackaged: the walkthrough opens');
    await runCommand(page, 'View: Close All Editors');

    // Show Reconstructions on the active model (cnn6.onnx, fully recoverable, in its Layer View) from the palette.
    await openQuickly(page, 'cnn6.onnx');
    await webviewFrame(page, '#root[data-view="layers"][data-phase="done"] #run-attack');
    await runCommand(page, 'LeakLint: Show Reconstructions');
    const view = await webviewFrame(page, '#root[data-view="reconstructions"][data-phase="done"]', 240_000);
    // The view is done when it has the results; its images then decode (a loaded machine took seconds for the last).
    await view
      .waitForFunction(
        () => globalThis.document.images.length >= 2 && [...globalThis.document.images].every((img) => img.complete && img.naturalWidth > 0),
        null,
        {
          timeout: 30_000,
        },
      )
      .catch(() => undefined);
    const images = await view.$$eval('img', (imgs) => imgs.map((img) => ({ alt: img.alt, loaded: img.complete && img.naturalWidth > 0 })));
    if (images.length < 2 || images.some((i) => !i.loaded)) throw new Error(`reconstruction images not loaded: ${JSON.stringify(images)}`);
    const verdict = await view.textContent('.verdict');
    console.log(`uiPackaged: ${images.length} images shown; verdict: ${verdict}`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(shots, 'reconstructions.png') });
    // One sample: the image beside its reconstruction, the per-layer chart and the metrics.
    await view
      .locator('section.sample')
      .first()
      .screenshot({ path: path.join(shots, 'reconstruction-chart.png') });
    if (problems.length) throw new Error(`webview console errors or CSP violations:\n  ${problems.join('\n  ')}`);
    return 0;
  } catch (e) {
    console.error(`uiPackaged: FAILED: ${e instanceof Error ? e.message : e}`);
    if (problems.length) console.error(`webview console:\n  ${problems.join('\n  ')}`);
    await page.screenshot({ path: path.join(shots, RESTRICTED ? 'restricted-failure.png' : 'failure.png') }).catch(() => {});
    return 1;
  } finally {
    await browser.close().catch(() => {});
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
