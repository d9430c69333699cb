// UI test of the packaged extension: code-server runs with the .vsix installed (not the source folder), and
// headless Chromium drives the workbench like a user: open model.onnx in the LeakLint Layer View, run
// "LeakLint: Show Reconstructions", wait for the images. Screenshots go to test-output/ (gitignored); any console
// error from a webview or any Content-Security-Policy violation fails the test.
// With --restricted the window declines workspace trust: the layer view must work and offer no attack.
// Usage (from run.sh): CS_HOST=127.0.0.1:PORT node uiPackaged.js <workspace folder> <screenshot folder> [--restricted]
// Exit code: 0 passed, 1 failed (the reason on stderr and a failure screenshot).
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const HOST = process.env.CS_HOST || '127.0.0.1:8080';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const [folder, shots] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map((p) => p && path.resolve(p));
const STEP_MS = 90_000;
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

    // The layer view: Quick Open the model, then "Reopen Editor With…" → LeakLint Layer View.
    await page.keyboard.press('Control+P');
    await pick(page, 'model.onnx');
    await runCommand(page, 'View: Reopen Editor With...');
    await pick(page, 'LeakLint Layer View');
    const table = await webviewFrame(page, '#root[data-view="layers"][data-phase="done"] table.layers tr.medium');
    await table.hover('table.layers tr[data-layer="conv_2"]');
    await table.locator('#layer-details', { hasText: 'conv_2' }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(shots, RESTRICTED ? 'restricted-layer-view.png' : 'layer-view.png') });
    console.log('uiPackaged: layer view shows the analysed layers');

    if (RESTRICTED) {
      // Restricted Mode: static analysis above worked; the attack must be offered nowhere.
      if (await table.$('#run-attack')) throw new Error('the layer view offers "Run attack" in Restricted Mode');
      if (problems.length) throw new Error(`webview console errors or CSP violations:\n  ${problems.join('\n  ')}`);
      console.log('uiPackaged: Restricted Mode: analysis shown, no attack offered');
      return 0;
    }

    // Show Reconstructions on the active model (cnn6.onnx, fully recoverable, in its layer view) from the palette.
    await page.keyboard.press('Control+P');
    await pick(page, 'cnn6.onnx');
    await runCommand(page, 'View: Reopen Editor With...');
    await pick(page, 'LeakLint Layer View');
    await webviewFrame(page, '#root[data-view="layers"][data-phase="done"] #run-attack');
    await runCommand(page, 'LeakLint: Show Reconstructions');
    const view = await webviewFrame(page, '#root[data-view="reconstructions"][data-phase="done"]', 240_000);
    const images = await view.$$eval('img', (imgs) => imgs.map((img) => ({ alt: img.alt, loaded: img.complete && img.naturalWidth > 0 })));
    if (images.length < 2 || images.some((i) => !i.loaded)) throw new Error(`reconstruction images not loaded: ${JSON.stringify(images)}`);
    const verdict = await view.textContent('.verdict');
    console.log(`uiPackaged: ${images.length} images shown; verdict: ${verdict}`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(shots, 'reconstructions.png') });
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
