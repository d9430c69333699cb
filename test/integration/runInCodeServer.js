// Opens code-server's workbench in headless Chromium (playwright-core, the machine's Node) with the test payload,
// prints the extension host's console (mocha's output) and exits with the code the workbench passes to
// window.codeAutomationExit: 0 when every test passed.
// Usage (from run.sh): CS_HOST=127.0.0.1:PORT node runInCodeServer.js <extensionDevelopmentPath> <extensionTestsPath> <folder>
'use strict';
const path = require('path');
const util = require('util');
const { chromium } = require('playwright-core');

const HOST = process.env.CS_HOST || '127.0.0.1:8080';
const TIMEOUT_MS = Number(process.env.LEAKLINT_E2E_TIMEOUT || 480) * 1000;
/** The workbench must start the suite (its first marked line) within this; run.sh retries once on exit code 4. */
const STARTUP_TIMEOUT_MS = Number(process.env.LEAKLINT_E2E_STARTUP_TIMEOUT || 120) * 1000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.LEAKLINT_E2E_ARTIFACTS;
const MARK = '[leaklint-e2e] '; // see suite/index.js
const [devPath, testsPath, folder] = process.argv.slice(2).map((p) => p && path.resolve(p));

async function main() {
  if (!devPath || !testsPath || !folder) throw new Error('usage: runInCodeServer.js <extensionDevelopmentPath> <extensionTestsPath> <folder>');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Stopped from outside (Ctrl-C, run.sh's trap): close Chromium and exit, not wait for the time-out.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ]) {
    process.on(signal, () => {
      console.error(`runInCodeServer: ${signal}, stopping`);
      browser.close().finally(() => process.exit(code));
    });
  }
  let timer;
  let startupTimer;
  try {
    const page = await browser.newPage();
    const verbose = process.env.LEAKLINT_E2E_VERBOSE === '1';
    // The workbench's own log (gallery lookups failing offline, GitHub auth, ...) is noise unless something fails:
    // kept and printed then, or always with LEAKLINT_E2E_VERBOSE=1. Lines the suite marks are always printed.
    const workbenchLog = [];
    let suiteSpoke = false;
    const keep = (line) => (verbose ? console.error(`[workbench] ${line}`) : workbenchLog.push(line) > 200 && workbenchLog.shift());
    page.on('pageerror', (e) => keep(`page error: ${e.message}`));
    const exited = new Promise((resolve) => {
      // The workbench logs here (the extension host's console included) while the tests run, then reports the result.
      page.exposeFunction('codeAutomationLog', (type, args) => {
        const text = util.format(...(Array.isArray(args) ? args : [args]));
        for (const line of text.split('\n')) {
          if (!line.startsWith(MARK)) {
            keep(`${type}: ${line}`);
            continue;
          }
          suiteSpoke = true;
          console.log(line.slice(MARK.length));
        }
      });
      page.exposeFunction('codeAutomationExit', (code) => resolve(code));
    });
    const timedOut = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), TIMEOUT_MS)));
    const neverStarted = new Promise((resolve) => (startupTimer = setTimeout(() => !suiteSpoke && resolve('startup-timeout'), STARTUP_TIMEOUT_MS)));
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', `vscode-remote://${HOST}${devPath}`],
      ['extensionTestsPath', `vscode-remote://${HOST}${testsPath}`],
      ['skipWelcome', 'true'],
    ]);
    await page.goto(`http://${HOST}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(payload)}`);
    const code = await Promise.race([exited, timedOut, neverStarted]);
    if ((typeof code !== 'number' || !suiteSpoke) && !verbose && workbenchLog.length) {
      console.error(`---- workbench log (last ${workbenchLog.length} lines) ----\n${workbenchLog.join('\n')}\n----`);
    }
    if (code === 'startup-timeout') {
      console.error(`runInCodeServer: the workbench did not start the suite within ${STARTUP_TIMEOUT_MS / 1000} s`);
      return 4;
    }
    if (code === 'timeout') {
      console.error(`runInCodeServer: no result after ${TIMEOUT_MS / 1000} s (is --vscode-option enable-smoke-test-driver set?)`);
      if (ARTIFACTS) await page.screenshot({ path: path.join(ARTIFACTS, 'timeout.png') }).catch(() => {});
      return 3;
    }
    console.error(`runInCodeServer: codeAutomationExit(${code})${code === 0 || verbose ? '' : ' (LEAKLINT_E2E_VERBOSE=1 shows the workbench log)'}`);
    return code === 0 ? 0 : 1;
  } finally {
    clearTimeout(timer);
    clearTimeout(startupTimer);
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
