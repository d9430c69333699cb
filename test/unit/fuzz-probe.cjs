// Preloaded into the command line by test/unit/fuzz.test.ts (node --require): records every path the process opens
// for writing or changes, and every path whose contents it reads or lists, through Node's fs module (the CLI has no
// other way to touch files), and its peak resident memory, into the file LEAKLINT_FUZZ_PROBE names when the process
// exits. The peak is getrusage's ru_maxrss, the figure /usr/bin/time prints as "Maximum resident set size".
const fs = require('fs');

const probeFile = process.env.LEAKLINT_FUZZ_PROBE;
const writeProbe = fs.writeFileSync;
const started = process.hrtime.bigint();
const writes = [];
const reads = [];

const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
const writesWith = (flags) =>
  typeof flags === 'number' ? (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) !== 0 : typeof flags === 'string' && /[wa+]/.test(flags);

/** Wraps `name` of `target` so that the paths `paths(args)` names are recorded (in `log`) before each call. */
function watch(target, name, paths, log = writes) {
  const original = target[name];
  if (typeof original !== 'function') return;
  target[name] = function (...args) {
    for (const file of paths(args)) log.push(`${name} ${typeof file === 'string' ? file : String(file)}`);
    return original.apply(this, args);
  };
}

const first = (args) => (typeof args[0] === 'number' ? [] : [args[0]]);
const both = (args) => [args[0], args[1]];
const opened = (args) => (writesWith(args[1]) ? [args[0]] : []);
const openedForReading = (args) => (writesWith(args[1]) ? [] : first(args));
const streamed = (args) => [args[0]];

for (const target of [fs, fs.promises]) {
  for (const name of ['open', 'openSync']) watch(target, name, opened);
  for (const name of ['writeFile', 'writeFileSync', 'appendFile', 'appendFileSync', 'mkdir', 'mkdirSync', 'mkdtemp', 'mkdtempSync']) {
    watch(target, name, first);
  }
  for (const name of ['unlink', 'unlinkSync', 'rm', 'rmSync', 'rmdir', 'rmdirSync', 'truncate', 'truncateSync', 'chmod', 'chmodSync', 'utimes', 'utimesSync']) {
    watch(target, name, first);
  }
  for (const name of ['rename', 'renameSync', 'copyFile', 'copyFileSync', 'cp', 'cpSync', 'symlink', 'symlinkSync', 'link', 'linkSync']) {
    watch(target, name, both);
  }
}
watch(fs, 'createWriteStream', streamed);
// Reads (an open is recorded as one or the other, by its flags): contents and listings.
for (const target of [fs, fs.promises]) {
  for (const name of ['open', 'openSync']) watch(target, name, openedForReading, reads);
  for (const name of ['readFile', 'readFileSync', 'readdir', 'readdirSync', 'opendir', 'opendirSync']) watch(target, name, first, reads);
}
watch(fs, 'createReadStream', streamed, reads);

process.on('exit', () => {
  if (!probeFile) return;
  const usage = process.resourceUsage();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  writeProbe(probeFile, JSON.stringify({ maxRssKb: usage.maxRSS, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, seconds, writes, reads }));
});
