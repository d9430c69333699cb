// Entry point of the second window (run.sh starts code-server again on the same storage and workspace, which is a
// reload as far as the extension can tell): runs the suites next to this file with the first window's helpers.
'use strict';
const { runSuites } = require('../suite/index');

module.exports = { run: () => runSuites(__dirname) };
