// Running the leaklint command line as a child process (from the TypeScript sources or the dist/cli.js bundle), and
// what every test of its output checks: exit codes, one-line errors, SARIF that validates, no control characters.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI_SOURCE = path.join(ROOT, 'src/cli/main.ts');
export const CLI_BUNDLE = path.join(ROOT, 'dist/cli.js');
// Absolute, so that the CLI can run with any working directory.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const SARIF_SCHEMA_FILE = path.join(ROOT, 'node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Run dist/cli.js instead of the sources. */
  bundle?: boolean;
  /** Node options before the script (e.g. --require for a probe). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Kill the run after this long (a hang must fail the test, not stall it). */
  timeoutMs?: number;
}

export function run(args: string[], options: RunOptions = {}): Promise<Run> {
  const script = options.bundle ? [CLI_BUNDLE] : ['--import', TSX_LOADER, CLI_SOURCE];
  const nodeArgs = [...(options.nodeArgs ?? []), ...script, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: options.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...options.env } });
    let stdout = '';
    let stderr = '';
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Builds dist/cli.js (and the worker) if a test needs the bundle and it is not there. */
export function ensureBundle(): void {
  if (fs.existsSync(CLI_BUNDLE)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--config-name', 'cli'], {
    cwd: ROOT,
    stdio: 'ignore',
  });
}

/** A failed run says what is wrong in exactly one line of stderr, prefixed with "leaklint:". */
export function assertOneErrorLine(result: Run, pattern: RegExp): void {
  assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${result.stderr}`);
  assert.match(lines[0], /^leaklint: /);
  assert.match(lines[0], pattern);
}

/** Characters a terminal would act on or hide: C0/C1 controls except the newline, bidi and zero-width format characters. */
export const TERMINAL_UNSAFE = /(?!\n)[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

export function assertTerminalSafe(text: string, what: string): void {
  const match = TERMINAL_UNSAFE.exec(text);
  assert.equal(
    match,
    null,
    `${what} has U+${match?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} at ${match?.index}: ${JSON.stringify(text.slice(Math.max(0, (match?.index ?? 0) - 40), (match?.index ?? 0) + 40))}`,
  );
}

export function sarifValidator(): (log: unknown) => void {
  const ajv = new AjvDraft04({ strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(fs.readFileSync(SARIF_SCHEMA_FILE, 'utf8')));
  return (log) => assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
}
