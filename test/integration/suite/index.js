// Entry point VS Code loads from `extensionTestsPath`, inside the real extension host (code-server's, or the
// desktop one through @vscode/test-electron). Runs the mocha tdd suites next to this file.
'use strict';
const path = require('path');
const fs = require('fs');
const util = require('util');
const Mocha = require('mocha');

/** Prefix of the lines this suite prints: the runner tells them from the workbench's own log, which it hides. */
const MARK = '[leaklint-e2e] ';

/**
 * Mocha's reporters print through Base.consoleLog; while the tests run, it marks each line. (console.* itself cannot
 * be wrapped: the extension host defines it with getters that ignore assignment, to forward it to the workbench.)
 */
function markReporterOutput() {
  const Base = Mocha.reporters.Base;
  const saved = Base.consoleLog;
  Base.consoleLog = (...args) =>
    console.log(
      MARK +
        util
          .format(...args)
          .split('\n')
          .join('\n' + MARK),
    );
  return () => {
    Base.consoleLog = saved;
  };
}

/** Runs the *.test.js files of `folder` in name order (this folder's, or the reload suite's). */
function runSuites(folder) {
  // LEAKLINT_E2E_GREP (through code-server's environment) runs only the matching tests, while working on them.
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000, reporter: 'spec', grep: process.env.LEAKLINT_E2E_GREP || undefined });
  for (const name of fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.test.js'))
    .sort()) {
    mocha.addFile(path.join(folder, name));
  }
  const restore = markReporterOutput();
  return new Promise((resolve, reject) => {
    try {
      mocha.run((failures) => {
        restore();
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else resolve();
      });
    } catch (e) {
      restore();
      reject(e);
    }
  });
}

module.exports = { run: () => runSuites(__dirname), runSuites };
