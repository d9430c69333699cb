// The leaklint command line, run as a child process from the TypeScript sources (and once from the dist/cli.js bundle):
// exit codes 0/1/2, one-line errors, folder discovery, report files, and SARIF that validates.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { discoverModelFiles } from '../../src/engine/jobs/discover';
import { nodeFileAccess } from '../../src/node/nodeFileAccess';
import { looksLikeTfjsModel } from '../../src/engine/readers/detect';
import { createIgnoreMatcher } from '../../src/engine/config';
import { CliError, parseShape } from '../../src/cli/context';
import { inputShapeFor } from '../../src/engine/options';
import { encodeModel, node, tensor, valueInfo } from './onnx-helpers';
import packageJson from '../../package.json';

const ROOT = path.resolve(__dirname, '../..');
const MODELS = path.resolve(ROOT, 'test/fixtures/third-party');
const RESNET50 = path.join(MODELS, 'onnx-light-resnet50/model.onnx');
const PT_CONV = path.join(MODELS, 'onnx-pt-conv2d/model.onnx');
const MNIST_LAYERS = path.join(MODELS, 'tensorspace-mnist-tf-layers/model.json');
const CLI_SOURCE = path.join(ROOT, 'src/cli/main.ts');
const CLI_BUNDLE = path.join(ROOT, 'dist/cli.js');
// Absolute, so that the CLI can run with any working directory.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const SARIF_SCHEMA_FILE = path.join(ROOT, 'node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
/** Auditing every shared model (ResNet-50, VGG-19, DenseNet-121 at 224×224) takes a while. */
const SLOW = { timeout: 15 * 60_000 };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], options: { cwd?: string; bundle?: boolean } = {}): Promise<Run> {
  const nodeArgs = options.bundle ? [CLI_BUNDLE, ...args] : ['--import', TSX_LOADER, CLI_SOURCE, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: options.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A failed run says what is wrong in exactly one line of stderr, prefixed with "leaklint:". */
function assertOneErrorLine(result: Run, pattern: RegExp): void {
  assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${result.stderr}`);
  assert.match(lines[0], /^leaklint: /);
  assert.match(lines[0], pattern);
}

function sarifValidator(): (log: unknown) => void {
  const ajv = new AjvDraft04({ strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(fs.readFileSync(SARIF_SCHEMA_FILE, 'utf8')));
  return (log) => assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
}

let tmp: string;
let garbageFile: string;
let emptyFile: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-cli-'));
  garbageFile = path.join(tmp, 'garbage.onnx');
  emptyFile = path.join(tmp, 'empty.onnx');
  fs.writeFileSync(garbageFile, 'this is not a protobuf, just some text pretending to be a model\n'.repeat(20));
  fs.writeFileSync(emptyFile, '');
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('usage', () => {
  it('prints the version and help with exit 0', async () => {
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), packageJson.version);
    const help = await run(['audit', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--fail-on <severity>/);
    assert.match(help.stdout, /--format <formats>/);
  });

  it('exits 2 on bad usage, never 1', async () => {
    const bare = await run([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /Usage: leaklint/);
    const cases: string[][] = [
      ['frobnicate'],
      ['layers'],
      ['audit'],
      ['audit', PT_CONV, '--bogus'],
      ['audit', PT_CONV, '--format', 'pdf'],
      ['audit', PT_CONV, '--fail-on', 'critical'],
      ['layers', PT_CONV, '--input-shape', '1,a,3'],
      ['layers', PT_CONV, '--input-shape', '1,3,x'],
      ['layers', PT_CONV, '--input-shape', '1,3,32,32', '--input-shape', '1,3,64,64'],
      ['layers', PT_CONV, '--format', 'sarif'],
    ];
    for (const args of cases) {
      const result = await run(args);
      assert.equal(result.code, 2, `leaklint ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
      assert.match(result.stderr, /^leaklint: /, `leaklint ${args.join(' ')}`);
    }
  });

  it('exits 2 with one line on a missing or invalid config file', async () => {
    assertOneErrorLine(await run(['audit', tmp, '--config', path.join(tmp, 'nope.json')]), /nope\.json: cannot read the configuration file/);
    const bad = path.join(tmp, 'bad.config.json');
    fs.writeFileSync(bad, JSON.stringify({ failOn: 'sometimes' }));
    assertOneErrorLine(await run(['audit', tmp, '--config', bad]), /bad\.config\.json: "failOn" must be one of/);
  });
});

describe('--input-shape values', () => {
  it('parses one shape for the image input, and name=shape for named inputs (repeatable)', () => {
    assert.deepEqual(parseShape('1,3,32,32'), [1, 3, 32, 32]);
    assert.deepEqual(parseShape('1x3x32x32'), [1, 3, 32, 32]);
    assert.deepEqual(parseShape(' 1, 3, 32 ,32 '), [1, 3, 32, 32]);
    const named = parseShape('h=2,1,64', parseShape('x=1,3,48,192'));
    assert.deepEqual(named, { named: { x: [1, 3, 48, 192], h: [2, 1, 64] } });
    assert.deepEqual(parseShape('1,3,32,32', named), { unnamed: [1, 3, 32, 32], named: { x: [1, 3, 48, 192], h: [2, 1, 64] } });
    assert.deepEqual(parseShape('input_1:0=1,8,8,3'), { named: { 'input_1:0': [1, 8, 8, 3] } });
    const proto = parseShape('__proto__=1,2');
    assert.deepEqual(
      [Object.keys((proto as { named: object }).named), inputShapeFor(proto, '__proto__', false), inputShapeFor(proto, 'constructor', false)],
      [['__proto__'], [1, 2], undefined],
    );
  });

  it('rejects malformed values instead of dropping what it cannot read ("1,3,x" used to become [1, 3])', () => {
    for (const bad of ['1,3,x', '1,,3', '1,3,', 'a', '', '1,3,0', '1.5,3', '=1,3', 'x=']) {
      assert.throws(() => parseShape(bad), CliError, bad);
    }
    assert.throws(() => parseShape('1,3,8,8', parseShape('1,3,4,4')), /two input shapes without a name/);
    assert.throws(() => parseShape('x=1,3,8,8', parseShape('x=1,3,4,4')), /two input shapes for "x"/);
  });

  it('names the inputs of a model with several dynamic inputs on the command line', async () => {
    const file = path.join(tmp, 'two-inputs.onnx');
    const spec = {
      nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv'), node('Relu', ['h'], ['r'], {}, 'relu')],
      inputs: [valueInfo('x', ['N', 3, 'H', 'W']), valueInfo('h', ['L', 1, 'D'])],
      outputs: [valueInfo('c', undefined), valueInfo('r', undefined)],
      initializers: [tensor('w', [4, 3, 3, 3], new Array(108).fill(0.1))],
    };
    fs.writeFileSync(file, encodeModel(spec));
    const result = await run(['layers', file, '--format', 'json', '--input-shape', 'x=1,3,48,192', '--input-shape', 'h=2,1,64']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).inputs, [
      { name: 'x', shape: [1, 3, 48, 192] },
      { name: 'h', shape: [2, 1, 64] },
    ]);
  });
});

describe('leaklint layers', () => {
  it('lists the layers of an ONNX model', async () => {
    const result = await run(['layers', RESNET50]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\s*#\s+id\s+op\s+source op\s+input -> output\s+params\s+status$/m);
    assert.match(result.stdout, /\bconv\s+Conv\s+1x3x224x224 -> 1x64x112x112\s+\d+\s+ok/);
    assert.match(result.stdout, /node\(s\), [\d,]+ parameter\(s\)/);
  });

  it('prints JSON with shapes, attributes and parameter counts but no weight values', async () => {
    const result = await run(['layers', RESNET50, '--format', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const listing = JSON.parse(result.stdout);
    assert.equal(listing.format, 'onnx');
    assert.ok(listing.nodes.length > 50);
    const conv = listing.nodes.find((n: { op: string }) => n.op === 'conv');
    assert.deepEqual(conv.inputShapes, [[1, 3, 224, 224]]);
    assert.equal(conv.attrs.kind, 'conv');
    assert.deepEqual(conv.weights.kernel.shape, [64, 3, 7, 7]);
    assert.equal(conv.parameterCount, 64 * 3 * 7 * 7 + (conv.weights.bias ? 64 : 0));
    assert.ok(result.stdout.length < 1_000_000, 'no weight values in the listing');
  });

  it('lists the layers of a TF.js layers model', async () => {
    const result = await run(['layers', MNIST_LAYERS]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\(tfjs-layers/);
    assert.match(result.stdout, /\bconv\b/);
    assert.match(result.stdout, /\bdense\b/);
  });

  it('exits 2 with one readable line on a garbage, an empty and a missing file', async () => {
    for (const file of [garbageFile, emptyFile, path.join(tmp, 'missing.onnx')]) {
      const result = await run(['layers', file]);
      assertOneErrorLine(result, new RegExp(`${path.basename(file).replace('.', '\\.')}.*: \\S`));
      assert.equal(result.stdout, '');
    }
    assertOneErrorLine(await run(['layers', emptyFile]), /empty/);
  });
});

describe('model discovery', () => {
  it('recognises TF.js model.json files by their top-level keys', () => {
    assert.ok(looksLikeTfjsModel('{"modelTopology": {"class_name": "Sequential"}, "weightsManifest": []}'));
    assert.ok(looksLikeTfjsModel('{"format": "graph-model", "generatedBy": "1.14", "modelTopology": {"node": [{"name": "a"'), 'cut short');
    assert.ok(looksLikeTfjsModel('\n {"format": "layers-model", "weightsManifest": [{"paths": ["a.bin"]}]}'));
    assert.ok(
      looksLikeTfjsModel('{"format": "graph-model", "signature": {"inputs": {"input:0": {"name": "input:0", "dtype"'),
      'the graph model head before modelTopology',
    );
    assert.ok(!looksLikeTfjsModel('{"format": "csv", "signature": {}}'), 'another format');
    assert.ok(!looksLikeTfjsModel('{"name": "leaklint", "version": "0.1.0", "dependencies": {"modelTopology": "1.0"}}'), 'nested key');
    assert.ok(!looksLikeTfjsModel('[{"paths": ["group1-shard1of1"], "weights": []}]'), 'weights-only manifest');
    assert.ok(!looksLikeTfjsModel('{"weightsManifest": []}'));
    assert.ok(!looksLikeTfjsModel('not json'));
  });

  it('walks folders, skipping node_modules, dot folders, non-models and ignored paths', async () => {
    const root = path.join(tmp, 'tree');
    const files: Record<string, string> = {
      'a/model.onnx': 'x',
      'a/package.json': '{"name": "x", "version": "1.0.0"}',
      'a/tfjs/model.json': '{"format": "layers-model", "modelTopology": {}}',
      'a/tfjs/weights.bin': 'x',
      'b/mnist.json': '{"modelTopology": {}, "weightsManifest": []}',
      'b/ignored/model.onnx': 'x',
      'node_modules/pkg/model.onnx': 'x',
      '.git/model.onnx': 'x',
      'Z.ONNX': 'x',
    };
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
      fs.writeFileSync(path.join(root, name), text);
    }
    const discovery = await discoverModelFiles(
      nodeFileAccess,
      ['tree', 'tree/a/model.onnx', 'tree/a/package.json'],
      tmp,
      createIgnoreMatcher(['b/ignored'], root),
    );
    const relative = discovery.files.map((f) => path.relative(root, f).split(path.sep).join('/'));
    assert.deepEqual(relative, ['Z.ONNX', 'a/model.onnx', 'a/tfjs/model.json', 'b/mnist.json', 'a/package.json']);
    assert.deepEqual(discovery.unreadableFolders, []);
  });
});

// These need the analysis (src/engine/analysis/analyseModel.ts).
describe('leaklint audit', () => {
  it('exits 2 and reports the failure when a model cannot be read', async () => {
    const folder = path.join(tmp, 'broken');
    fs.mkdirSync(folder, { recursive: true });
    fs.copyFileSync(garbageFile, path.join(folder, 'garbage.onnx'));
    const result = await run(['audit', folder, '--format', 'json'], { cwd: tmp });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^leaklint: broken\/garbage\.onnx.*: \S/m);
    const report = JSON.parse(result.stdout);
    assert.equal(report.failures.length, 1);
    assert.equal(report.failures[0].file, path.join(folder, 'garbage.onnx'));
    assert.equal(typeof report.failures[0].reason, 'string');
    assert.deepEqual(report.reports, []);
  });

  it('analyses one model and applies --fail-on', async () => {
    const clean = await run(['audit', PT_CONV, '--format', 'json', '--fail-on', 'none']);
    assert.equal(clean.code, 0, clean.stderr);
    const report = JSON.parse(clean.stdout);
    assert.equal(report.tool.name, 'leaklint');
    assert.equal(typeof report.generatedAt, 'string');
    assert.equal(report.reports.length, 1);
    assert.equal(report.reports[0].format, 'onnx');
    assert.ok(report.reports[0].layers.length >= 1);
    // Every analysed layer carries a finding, so failing on "low" must fail.
    const strict = await run(['audit', PT_CONV, '--fail-on', 'low']);
    assert.equal(strict.code, 1, strict.stderr);
  });

  it('reads leaklint.config.json from the working directory', async () => {
    const cwd = path.join(tmp, 'configured');
    fs.mkdirSync(cwd, { recursive: true });
    const allOff = Object.fromEntries(['LL001', 'LL002', 'LL003', 'LL004', 'LL005', 'LL006', 'LL010'].map((id) => [id, 'off']));
    fs.writeFileSync(path.join(cwd, 'leaklint.config.json'), JSON.stringify({ failOn: 'low', rules: allOff }));
    const result = await run(['audit', PT_CONV, '--format', 'json'], { cwd });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).issues, []);
  });

  it('writes the report to --out, creating folders', async () => {
    const out = path.join(tmp, 'reports/nested/report.md');
    const result = await run(['audit', PT_CONV, '--format', 'markdown', '--out', out, '--fail-on', 'none']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    const markdown = fs.readFileSync(out, 'utf8');
    assert.match(markdown, /^# LeakLint report/);
    assert.match(markdown, /\| # \| Layer \| Op \|/);
  });

  it('writes several formats from one analysis into an --out folder', async () => {
    const out = path.join(tmp, 'all-formats') + path.sep;
    const result = await run(['audit', PT_CONV, '--format', 'markdown,sarif,json', '--out', out, '--fail-on', 'none', '--quick']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), ['leaklint-report.json', 'leaklint-report.md', 'leaklint-report.sarif']);
    sarifValidator()(JSON.parse(fs.readFileSync(path.join(out, 'leaklint-report.sarif'), 'utf8')));
    const json = JSON.parse(fs.readFileSync(path.join(out, 'leaklint-report.json'), 'utf8'));
    assert.equal(json.reports[0].layers[0].metrics.rankMethod, 'bound', '--quick computes bounds only');
    const noFolder = await run(['audit', PT_CONV, '--format', 'markdown,json']);
    assertOneErrorLine(noFolder, /several formats need --out <folder>\//);
  });

  it('audits the shared models folder as SARIF that validates', SLOW, async () => {
    const validate = sarifValidator();
    const result = await run(['audit', path.relative(ROOT, MODELS), '--format', 'sarif', '--no-fixes']);
    assert.ok(result.code === 0 || result.code === 1 || result.code === 2, `exit ${result.code}`);
    const log = JSON.parse(result.stdout);
    validate(log);
    const run0 = log.runs[0];
    const analysed = (run0.properties.models as { file: string }[]).map((m) => m.file);
    const failed = (run0.invocations[0].toolExecutionNotifications ?? [])
      .filter((n: { level: string }) => n.level === 'error')
      .map((n: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) => n.locations[0].physicalLocation.artifactLocation.uri);
    // Every model of the folder (found by extension or by content, e.g. mnist.json) is either analysed or reported.
    const expected = ['onnx-light-resnet50/model.onnx', 'tensorspace-lenet-layers/mnist.json', 'tensorspace-mnist-tf-layers/model.json'];
    for (const model of expected) {
      assert.ok(
        [...analysed, ...failed].some((f: string) => f.endsWith(model)),
        `${model} neither analysed nor reported`,
      );
    }
    assert.equal(result.code === 2, failed.length > 0, 'exit 2 exactly when a model could not be read');
    assert.ok(analysed.length > 0);
    assert.ok(run0.results.length > 0);
  });
});

describe('bundled CLI (dist/cli.js)', () => {
  before(() => {
    if (!fs.existsSync(CLI_BUNDLE)) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--config-name', 'cli'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    }
  });

  it('runs: version, layers, and a one-line error', async () => {
    const version = await run(['--version'], { bundle: true });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), packageJson.version);
    const layers = await run(['layers', PT_CONV], { bundle: true });
    assert.equal(layers.code, 0, layers.stderr);
    assert.match(layers.stdout, /\bconv\b/);
    assertOneErrorLine(await run(['layers', garbageFile], { bundle: true }), /garbage\.onnx/);
  });
});
