// Fuzz-style test of the command line (issue 12): a few hundred seeded mutations of the bundled fixtures, audited by
// the real bundle (dist/cli.js), several per invocation. Each invocation must exit 0, 1 or 2 as its report says, print
// exactly one clean stderr line per unreadable model (plus the readers' warnings) and no control character from a
// file, write nothing, read nothing outside the cases' folders, and stay within generous guards of time and memory;
// the figures go to the test's diagnostics.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeFailure } from '../../src/cli/context';
import { failsOn } from '../../src/engine/reports/issues';
import { displayPath, plainText } from '../../src/engine/reports/format';
import { assertTerminalSafe, ensureBundle, ROOT, run, type Run } from './cli-run';
import { generateCases, loadBases, writeCase, type Case } from './fuzz-mutations';

const CASES = 320;
/** Cases audited in full (numerical ranks), on the cheapest bases; the rest with --quick (readers, bounds, verdict). */
const FULL_CASES = 16;
const PER_INVOCATION = 8;
/** Guards, not benchmarks: a case over either is a denial of service (the huge-stride model took 30 s and 3.6 GB). */
const MAX_SECONDS_PER_CASE = 10;
const MAX_RSS_KB = 1024 * 1024;
const PROBE = path.join(ROOT, 'test/unit/fuzz-probe.cjs');

interface Probe {
  maxRssKb: number;
  cpuSeconds: number;
  seconds: number;
  writes: string[];
  reads: string[];
}

interface Measured {
  result: Run;
  wallSeconds: number;
  probe: Probe;
}

interface JsonReport {
  reports: { file: string; warnings: string[] }[];
  failures: { file: string; code: string; where: string; reason: string }[];
  issues: { severity: 'high' | 'medium' | 'low' }[];
}

let root: string;
let probes = 0;

before(() => {
  ensureBundle();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-fuzz-'));
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

async function audit(entries: string[], quick: boolean): Promise<Measured> {
  const probeFile = path.join(root, `probe-${probes++}.json`);
  const args = ['audit', ...entries.map((e) => path.relative(root, e)), '--format', 'json', '--quiet', '--no-fixes', ...(quick ? ['--quick'] : [])];
  const started = process.hrtime.bigint();
  // The kill is far above the guard: a hang fails the assertions below instead of stalling the suite.
  const result = await run(args, { bundle: true, cwd: root, nodeArgs: ['--require', PROBE], env: { LEAKLINT_FUZZ_PROBE: probeFile }, timeoutMs: 120_000 });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.ok(fs.existsSync(probeFile), `no probe after exit ${result.code} (killed or crashed): ${result.stderr.slice(0, 500)}`);
  const probe = JSON.parse(fs.readFileSync(probeFile, 'utf8')) as Probe;
  fs.rmSync(probeFile);
  return { result, wallSeconds, probe };
}

/** Everything the issue asks of one invocation over `cases` (written at `entries`). */
function assertInvocation(cases: Case[], entries: string[], { result, probe }: Measured): JsonReport {
  const label = cases.map((c) => `${c.id} ${c.base} ${c.mutation}`).join('\n');
  assert.ok(result.code === 0 || result.code === 1 || result.code === 2, `exit ${result.code}\n${label}\n${result.stderr}`);
  assertTerminalSafe(result.stdout, `stdout of\n${label}`);
  assertTerminalSafe(result.stderr, `stderr of\n${label}`);
  let report: JsonReport;
  try {
    report = JSON.parse(result.stdout) as JsonReport;
  } catch {
    assert.fail(`no JSON report (exit ${result.code}):\n${label}\n${result.stderr}`);
  }
  // One outcome per model, and the exit code the outcomes call for (--fail-on high by default).
  assert.equal(report.reports.length + report.failures.length, cases.length, label);
  const expectedCode = report.failures.length > 0 ? 2 : failsOn(report.issues as never, 'high') ? 1 : 0;
  assert.equal(result.code, expectedCode, `${label}\n${result.stderr}`);
  // Exactly one line per unreadable model and one per warning, each "leaklint: ..." and plain.
  const expectedLines = [
    ...report.failures.map((failure) => `leaklint: ${plainText(describeFailure(failure as never, root))}`),
    ...report.reports.flatMap((r) => r.warnings.map((w) => `leaklint: ${plainText(`${displayPath(r.file, root)}: warning: ${w}`)}`)),
  ].sort();
  assert.deepEqual(result.stderr.split('\n').filter(Boolean).sort(), expectedLines, label);
  for (const r of report.reports) assert.ok(entries.includes(r.file), `${r.file} is one of the cases`);
  // Nothing written anywhere (the report goes to stdout); in particular nothing outside the temp folder. Nothing read
  // outside the folders of these cases (a shard or external-data path that escapes must be refused, not followed)
  // but the command line's own bundle.
  assert.deepEqual(probe.writes, [], label);
  const folders = entries.map((entry) => path.dirname(entry) + path.sep);
  const outside = probe.reads.filter((read) => {
    const file = read.slice(read.indexOf(' ') + 1);
    return !folders.some((folder) => file.startsWith(folder)) && !file.startsWith(path.join(ROOT, 'dist') + path.sep);
  });
  assert.deepEqual(outside, [], label);
  assert.ok(probe.maxRssKb <= MAX_RSS_KB, `${Math.round(probe.maxRssKb / 1024)} MB\n${label}`);
  return report;
}

describe('fuzzing the command line with mutated fixtures', () => {
  it(`audits ${CASES} mutations: exit 0/1/2, one clean line per error, no control characters, no writes, no reads elsewhere, bounded time and memory`, async (t: TestContext) => {
    const bases = loadBases(path.join(ROOT, 'test/fixtures/generated'));
    // The full audits take the Jacobian rank too: on these bases it costs about a second (cnn2_c0's settles at 288
    // products, the MLP has 784 unknowns), so the guard still catches a reader or an analysis that runs away.
    const cheap = bases.filter((b) => b.name === 'cnn2_c0' || b.name === 'tfjs-layers-mlp');
    const cases = [
      ...generateCases(bases, CASES - FULL_CASES),
      ...generateCases(cheap, FULL_CASES, 'leaklint-fuzz-full-1').map((c) => ({ ...c, id: `f${c.id}` })),
    ];
    const figures = {
      invocations: 0,
      reruns: 0,
      maxWall: 0,
      maxCaseWall: 0,
      maxRssKb: 0,
      cpuSeconds: 0,
      exits: new Map<number, number>(),
      failures: new Map<string, number>(),
      analysed: 0,
      reads: 0,
    };
    const started = Date.now();

    for (let start = 0; start < cases.length; start += PER_INVOCATION) {
      const group = cases.slice(start, start + PER_INVOCATION);
      const quick = !group[0].id.startsWith('f');
      const entries = group.map((c) => writeCase(path.join(root, c.id.startsWith('f') ? 'full' : 'quick'), c));
      const measured = await audit(entries, quick);
      const report = assertInvocation(group, entries, measured);
      figures.invocations++;
      figures.maxWall = Math.max(figures.maxWall, measured.wallSeconds);
      figures.maxRssKb = Math.max(figures.maxRssKb, measured.probe.maxRssKb);
      figures.cpuSeconds += measured.probe.cpuSeconds;
      figures.reads += measured.probe.reads.length;
      figures.exits.set(measured.result.code!, (figures.exits.get(measured.result.code!) ?? 0) + 1);
      figures.analysed += report.reports.length;
      for (const failure of report.failures) figures.failures.set(failure.code, (figures.failures.get(failure.code) ?? 0) + 1);
      // Several cases under the guard of one are each under it; otherwise each case is timed on its own.
      if (measured.wallSeconds <= MAX_SECONDS_PER_CASE) continue;
      for (const [i, testCase] of group.entries()) {
        const alone = await audit([entries[i]], quick);
        figures.reruns++;
        assertInvocation([testCase], [entries[i]], alone);
        figures.maxCaseWall = Math.max(figures.maxCaseWall, alone.wallSeconds);
        assert.ok(alone.wallSeconds <= MAX_SECONDS_PER_CASE, `${alone.wallSeconds.toFixed(1)} s: ${testCase.id} ${testCase.base} ${testCase.mutation}`);
      }
    }

    const count = (map: Map<string | number, number>) => [...map].map(([k, v]) => `${k}: ${v}`).join(', ');
    t.diagnostic(
      `${cases.length} cases (seeded; ${FULL_CASES} with numerical ranks), ${figures.invocations} invocations of dist/cli.js, ${figures.reruns} re-run alone`,
    );
    t.diagnostic(
      `outcomes: ${figures.analysed} analysed, ${cases.length - figures.analysed} unreadable (${count(figures.failures)}); exit codes per invocation: ${count(figures.exits)}`,
    );
    t.diagnostic(
      `time: slowest invocation (${PER_INVOCATION} cases) ${figures.maxWall.toFixed(2)} s wall` +
        (figures.reruns ? `, slowest case re-run alone ${figures.maxCaseWall.toFixed(2)} s` : '') +
        ` (guard ${MAX_SECONDS_PER_CASE} s per case); CPU ${figures.cpuSeconds.toFixed(1)} s in all; test ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    t.diagnostic(`memory: peak resident ${Math.round(figures.maxRssKb / 1024)} MB (guard ${MAX_RSS_KB / 1024} MB)`);
    t.diagnostic(`files: ${figures.reads} reads and listings, all inside the cases' folders (or the bundle); no writes`);
  });
});
