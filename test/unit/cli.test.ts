// The leaklint command line, run as a child process from the TypeScript sources (and once from the dist/cli.js bundle):
// exit codes 0/1/2, one-line errors, folder discovery, report files, and SARIF that validates.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { discoverModelFiles } from '../../src/engine/jobs/discover';
import { nodeFileAccess } from '../../src/node/nodeFileAccess';
import { looksLikeTfjsModel } from '../../src/engine/readers/detect';
import { createIgnoreMatcher } from '../../src/engine/config';
import { CliError, describeModelError, parseShape } from '../../src/cli/context';
import { runCli } from '../../src/cli/main';
import { cutMiddle, fitProgressLine } from '../../src/cli/progress';
import { inputShapeFor } from '../../src/engine/options';
import { encodeModel, node, tensor, valueInfo } from './onnx-helpers';
import { assertOneErrorLine, ensureBundle, ROOT, run, sarifValidator } from './cli-run';
import packageJson from '../../package.json';

const MODELS = path.resolve(ROOT, 'test/fixtures/third-party');
const RESNET50 = path.join(MODELS, 'onnx-light-resnet50/model.onnx');
const PT_CONV = path.join(MODELS, 'onnx-pt-conv2d/model.onnx');
const MNIST_LAYERS = path.join(MODELS, 'tensorspace-mnist-tf-layers/model.json');
/** Auditing every shared model (ResNet-50, VGG-19, DenseNet-121 at 224×224) takes a while. */
const SLOW = { timeout: 15 * 60_000 };

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

  it('documents in the README exactly the options each command has', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const usage = readme.slice(readme.indexOf('## Command line'), readme.indexOf('## VS Code extension')).split('```')[1];
    for (const command of ['layers', 'audit', 'attack']) {
      const documented =
        usage
          .slice(usage.indexOf(`leaklint ${command} `))
          .split(/\nleaklint /)[0]
          .match(/--[a-z-]+/g) ?? [];
      const help = (await run([command, '--help'])).stdout.match(/--[a-z-]+/g) ?? [];
      const offered = help.filter((flag) => flag !== '--help');
      assert.deepEqual([...new Set(documented)].sort(), [...new Set(offered)].sort(), command);
    }
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

  it("adds the gradients' Jacobian rank to the verdict, unless --no-identifiability", async () => {
    const model = path.join(ROOT, 'test/fixtures/generated/cnn2_c0/model.onnx');
    const rankOf = (stdout: string) =>
      (
        JSON.parse(stdout).reports[0].model.verdict.evidence as { kind: string; basis?: string; rank?: { rank: number; unknowns: number; method: string } }[]
      ).find((e) => e.kind === 'gradient-matching' && e.basis === 'jacobian-rank')?.rank;
    const measured = await run(['audit', model, '--format', 'json', '--fail-on', 'none', '--no-fixes']);
    assert.equal(measured.code, 0, measured.stderr);
    const rank = rankOf(measured.stdout);
    assert.ok(rank && rank.method === 'exact' && rank.unknowns === 3072 && rank.rank < 3072, JSON.stringify(rank));
    const off = await run(['audit', model, '--format', 'json', '--fail-on', 'none', '--no-fixes', '--no-identifiability']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(rankOf(off.stdout), undefined);
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
  before(ensureBundle);

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

describe('a CLI that CI can trust', () => {
  const GENERATED = path.join(ROOT, 'test/fixtures/generated');
  const QUICK = ['--quick', '--no-fixes'];
  let project: string;

  before(() => {
    project = path.join(tmp, 'project');
    fs.mkdirSync(path.join(project, 'models/empty'), { recursive: true });
    fs.mkdirSync(path.join(project, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(project, 'docs/readme.txt'), 'no model here\n');
    fs.copyFileSync(path.join(GENERATED, 'cnn2_c0/model.onnx'), path.join(project, 'models/a.onnx'));
  });

  it('exits 2 with one clear line for an empty folder, a folder without models, a missing file or folder', async () => {
    const cases: [string, RegExp][] = [
      ['models/empty', /^leaklint: models\/empty: no model files \(\.onnx, TF\.js model\.json\) found in this folder$/],
      ['docs', /^leaklint: docs: no model files/],
      ['models/mistyped.onnx', /^leaklint: models\/mistyped\.onnx: no such file or folder$/],
      ['modles', /^leaklint: modles: no such file or folder$/],
    ];
    for (const [given, pattern] of cases) {
      const result = await run(['audit', given], { cwd: project });
      assertOneErrorLine(result, pattern);
      assert.equal(result.stdout, '', given);
    }
    // Next to a good path too: a mistyped path must not pass.
    const mixed = await run(['audit', 'models/a.onnx', 'models/b.onnx', '--fail-on', 'none'], { cwd: project });
    assertOneErrorLine(mixed, /models\/b\.onnx: no such file or folder/);
    // A path the config's ignore globs skip entirely says so.
    fs.writeFileSync(path.join(project, 'ignore-all.json'), JSON.stringify({ ignore: ['models'] }));
    assertOneErrorLine(await run(['audit', 'models', '--config', 'ignore-all.json'], { cwd: project }), /models: skipped by the ignore globs/);
  });

  it('prints a plain progress line per model when stderr is not a terminal, nothing with --quiet', async () => {
    const second = path.join(project, 'models/b.onnx');
    fs.copyFileSync(path.join(GENERATED, 'cnn2_c2/model.onnx'), second);
    try {
      const result = await run(['audit', 'models', ...QUICK, '--fail-on', 'none'], { cwd: project });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.stderr.split('\n').filter(Boolean), ['leaklint: [1/2] models/a.onnx', 'leaklint: [2/2] models/b.onnx']);
      const quiet = await run(['audit', 'models', ...QUICK, '--fail-on', 'none', '--quiet'], { cwd: project });
      assert.equal(quiet.stderr, '');
      assert.equal(quiet.stdout, result.stdout);
    } finally {
      fs.rmSync(second);
    }
  });

  it('prints warnings on stderr once, never inside the table', async () => {
    // bn-maxpool-residual's batch dimension is dynamic: the reader warns.
    const model = path.join(GENERATED, 'bn-maxpool-residual/model.onnx');
    const result = await run(['audit', model, ...QUICK, '--fail-on', 'none', '--quiet']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stderr.split('\n').filter(Boolean), [
      'leaklint: test/fixtures/generated/bn-maxpool-residual/model.onnx: warning: input "input" has a dynamic batch dimension; using 1',
    ]);
    assert.doesNotMatch(result.stdout, /warning|dynamic batch/);
    const layers = await run(['layers', model]);
    assert.equal(layers.stderr, result.stderr);
    assert.doesNotMatch(layers.stdout, /warning/);
  });

  it('prints each read error once: on stderr, counted (not repeated) in the table', async () => {
    const result = await run(['audit', garbageFile, path.join(project, 'models/a.onnx'), ...QUICK, '--fail-on', 'none', '--quiet'], { cwd: tmp });
    assert.equal(result.code, 2);
    const mentions = (text: string) => text.split('\n').filter((line) => line.includes('garbage.onnx'));
    assert.equal(mentions(result.stderr).length, 1, result.stderr);
    assert.match(mentions(result.stderr)[0], /^leaklint: garbage\.onnx: this is a text file .*, not an ONNX model$/);
    assert.deepEqual(mentions(result.stdout), []);
    assert.match(result.stdout, /^1 model\(s\) analysed, 1 could not be read; issues: /m);
  });

  it('says when a model has nothing to analyse instead of an empty table with a risk', async () => {
    const file = path.join(tmp, 'activation-only.onnx');
    fs.writeFileSync(
      file,
      encodeModel({ nodes: [node('Relu', ['x'], ['y'], {}, 'relu')], inputs: [valueInfo('x', [1, 3, 8, 8])], outputs: [valueInfo('y', [1, 3, 8, 8])] }),
    );
    const result = await run(['audit', file, '--quiet'], { cwd: tmp });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      'activation-only.onnx  (onnx, input 1x3x8x8, weights: file)\n' +
        'Nothing to leak: no layer with trainable parameters reads the image, so the shared gradients carry nothing about it.\n\n' +
        '1 model(s) analysed; issues: 0 high, 0 medium, 0 low\n',
    );
  });

  it('shows a live progress line on a terminal, the path cut in the middle and the file name kept', async () => {
    const deep = path.join(tmp, 'a-rather-long-folder-name', 'with-another-long-one-inside', 'and-a-third');
    fs.mkdirSync(deep, { recursive: true });
    fs.copyFileSync(path.join(GENERATED, 'cnn2_c0/model.onnx'), path.join(deep, 'classifier.onnx'));
    let stderr = '';
    let stdout = '';
    const code = await runCli(['audit', deep, ...QUICK, '--fail-on', 'none'], {
      cwd: tmp,
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      stderrIsTTY: true,
      stderrColumns: 48,
    });
    assert.equal(code, 0);
    const frames = stderr.split('\r\x1b[2K').filter(Boolean);
    assert.ok(frames.length >= 1, JSON.stringify(stderr));
    assert.equal(frames[0], '[1/1] a-rather-long-folder-n.../classifier.onnx');
    for (const frame of frames) assert.ok(frame.length <= 47 && !frame.includes('\n'), JSON.stringify(frame));
    assert.match(stdout, /classifier\.onnx {2}\(onnx/);
  });

  it('fits progress lines: the folders give way before the file name, the layer part before the path', () => {
    assert.equal(cutMiddle('test/fixtures/generated/cnn6/model.onnx', 24), 'test/fixtu.../model.onnx');
    assert.equal(cutMiddle('short/model.onnx', 24), 'short/model.onnx');
    // A file name longer than the room keeps its end (the extension).
    assert.equal(cutMiddle('folder/a-very-long-model-file-name.onnx', 20), '...el-file-name.onnx');
    assert.equal(fitProgressLine('[1/9] ', 'models/cnn6/model.onnx', ': layer 3/7 conv_3', 80), '[1/9] models/cnn6/model.onnx: layer 3/7 conv_3');
    assert.equal(fitProgressLine('[1/9] ', 'models/cnn6/model.onnx', ': layer 3/7 conv_3', 40), '[1/9] mo.../model.onnx: layer 3/7 conv_3');
    const tight = fitProgressLine('[1/9] ', 'models/cnn6/model.onnx', ': layer 3/7 a_layer_with_a_long_name', 34);
    assert.equal(tight, '[1/9] models/cnn6/model.onnx: l...');
    assert.ok(tight.length <= 34);
  });

  it('prints an attack error once, naming the model once', async () => {
    assertOneErrorLine(
      await run(['attack', PT_CONV, '--gradients', 'nope.safetensors', '--out', path.join(tmp, 'attack-out')], { cwd: tmp }),
      /^leaklint: --gradients nope\.safetensors: no such file$/,
    );
    assertOneErrorLine(
      await run(['attack', garbageFile, '--out', path.join(tmp, 'attack-out'), '--quiet'], { cwd: tmp }),
      /^leaklint: garbage\.onnx: this is a text file/,
    );
    // A read error from the background runtime starts with the model's own path: said once, relative.
    const model = path.join(tmp, 'models', 'x.onnx');
    assert.equal(describeModelError(model, `${model} (node 3 (conv1)): the file is truncated`, tmp), 'models/x.onnx (node 3 (conv1)): the file is truncated');
    assert.equal(describeModelError(model, `${model}: the file is truncated`, tmp), 'models/x.onnx: the file is truncated');
    assert.equal(describeModelError(model, `${path.join(tmp, 'g.safetensors')}: file not found`, tmp), 'models/x.onnx: g.safetensors: file not found');
  });
});

describe('--baseline', () => {
  const GENERATED = path.join(ROOT, 'test/fixtures/generated');
  const QUICK = ['--quick', '--no-fixes', '--quiet'];
  // cnn2_c0, then cnn2_c2 under the same name: conv_1 goes from low to medium (LL002), the verdict's risk from 0.30 to
  // 0.52 (LL010), dense_1 (LL003) stays medium at risk 1.
  const issuesOf = (stdout: string) =>
    (JSON.parse(stdout).issues as { ruleId: string; nodeId?: string; severity: string }[]).map((i) => `${i.ruleId} ${i.nodeId ?? '-'} ${i.severity}`);

  it('reports and fails only on findings that are new or got worse, matched relative to each report’s folder', async () => {
    const before = path.join(tmp, 'baseline-before');
    fs.mkdirSync(path.join(before, 'models'), { recursive: true });
    fs.copyFileSync(path.join(GENERATED, 'cnn2_c0/model.onnx'), path.join(before, 'models/a.onnx'));
    const adopted = await run(['audit', 'models', ...QUICK, '--format', 'json', '--out', 'leaklint-baseline.json', '--fail-on', 'none'], { cwd: before });
    assert.equal(adopted.code, 0, adopted.stderr);
    const baseline = JSON.parse(fs.readFileSync(path.join(before, 'leaklint-baseline.json'), 'utf8'));
    assert.equal(baseline.baseDir, before);
    assert.deepEqual(issuesOf(JSON.stringify(baseline)), ['LL002 conv_1 low', 'LL003 dense_1 medium', 'LL010 - medium']);

    // The same models in another checkout (CI): nothing new, so even --fail-on low passes.
    const checkout = path.join(tmp, 'baseline-ci');
    fs.cpSync(before, checkout, { recursive: true });
    const same = await run(['audit', 'models', ...QUICK, '--baseline', 'leaklint-baseline.json', '--fail-on', 'low', '--format', 'json'], { cwd: checkout });
    assert.equal(same.code, 0, same.stderr);
    assert.deepEqual(issuesOf(same.stdout), []);
    assert.deepEqual(JSON.parse(same.stdout).summary.baseline, { file: 'leaklint-baseline.json', unchanged: 3 });
    const table = await run(['audit', 'models', ...QUICK, '--baseline', 'leaklint-baseline.json'], { cwd: checkout });
    assert.match(table.stdout, /issues: 0 high, 0 medium, 0 low; 3 unchanged since the baseline \(leaklint-baseline\.json\) not shown\n$/);

    // A worse model under the same name and a new model: only what got worse and what is new is reported.
    fs.copyFileSync(path.join(GENERATED, 'cnn2_c2/model.onnx'), path.join(checkout, 'models/a.onnx'));
    fs.copyFileSync(path.join(GENERATED, 'cnn2_c0/model.onnx'), path.join(checkout, 'models/b.onnx'));
    const worse = await run(['audit', 'models', ...QUICK, '--baseline', 'leaklint-baseline.json', '--fail-on', 'medium', '--format', 'json'], {
      cwd: checkout,
    });
    assert.equal(worse.code, 1, worse.stderr);
    assert.deepEqual(issuesOf(worse.stdout), ['LL002 conv_1 medium', 'LL010 - medium', 'LL002 conv_1 low', 'LL003 dense_1 medium', 'LL010 - medium']);
    assert.deepEqual(
      (JSON.parse(worse.stdout).issues as { file: string }[]).map((i) => path.basename(i.file)),
      ['a.onnx', 'a.onnx', 'b.onnx', 'b.onnx', 'b.onnx'],
    );
    // SARIF follows the same issues.
    const sarif = await run(['audit', 'models', ...QUICK, '--baseline', 'leaklint-baseline.json', '--format', 'sarif', '--sarif-min-level', 'low'], {
      cwd: checkout,
    });
    assert.equal(JSON.parse(sarif.stdout).runs[0].results.length, 5);
  });

  it('exits 2 with one line when the baseline is missing or is not a JSON report', async () => {
    const model = path.join(ROOT, 'test/fixtures/generated/cnn2_c0/model.onnx');
    assertOneErrorLine(await run(['audit', model, '--baseline', 'nope.json'], { cwd: tmp }), /^leaklint: --baseline nope\.json: no such file$/);
    fs.writeFileSync(path.join(tmp, 'not-json.json'), '<html>');
    assertOneErrorLine(await run(['audit', model, '--baseline', 'not-json.json'], { cwd: tmp }), /^leaklint: --baseline not-json\.json: not a JSON file/);
    fs.writeFileSync(path.join(tmp, 'sarif.json'), JSON.stringify({ version: '2.1.0', runs: [] }));
    assertOneErrorLine(await run(['audit', model, '--baseline', 'sarif.json'], { cwd: tmp }), /^leaklint: --baseline sarif\.json: not a LeakLint JSON report/);
  });
});

describe('SARIF for GitHub code scanning', () => {
  const model = path.join(ROOT, 'test/fixtures/generated/cnn2_c2/model.onnx');

  it('gives URIs relative to the repository root, also for models outside the working folder', async () => {
    const repo = path.join(tmp, 'repo');
    fs.mkdirSync(path.join(repo, '.git'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'models'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'tools/ci'), { recursive: true });
    fs.copyFileSync(model, path.join(repo, 'models/classifier.onnx'));
    const validate = sarifValidator();
    const uris = (stdout: string): unknown[] => {
      const log = JSON.parse(stdout);
      validate(log);
      return log.runs[0].results.map(
        (r: { locations: { physicalLocation: { artifactLocation: unknown } }[] }) => r.locations[0].physicalLocation.artifactLocation,
      );
    };
    const args = ['audit', '../../models', '--quick', '--no-fixes', '--quiet', '--format', 'sarif', '--fail-on', 'none'];
    const fromSubfolder = await run(args, { cwd: path.join(repo, 'tools/ci') });
    assert.equal(fromSubfolder.code, 0, fromSubfolder.stderr);
    const relative = { uri: 'models/classifier.onnx', uriBaseId: 'SRCROOT' };
    assert.deepEqual(uris(fromSubfolder.stdout), [relative, relative, relative]);
    assert.equal(JSON.parse(fromSubfolder.stdout).runs[0].originalUriBaseIds.SRCROOT.uri, `file://${repo}/`);
    // --sarif-root names the folder; absolute file URIs only for models outside it.
    const rooted = await run([...args, '--sarif-root', '../../models'], { cwd: path.join(repo, 'tools/ci') });
    assert.deepEqual(uris(rooted.stdout)[0], { uri: 'classifier.onnx', uriBaseId: 'SRCROOT' });
    const outside = await run([...args, '--sarif-root', '.'], { cwd: path.join(repo, 'tools/ci') });
    assert.deepEqual(uris(outside.stdout)[0], { uri: `file://${repo}/models/classifier.onnx` });
    assertOneErrorLine(await run([...args, '--sarif-root', 'nowhere'], { cwd: path.join(repo, 'tools/ci') }), /--sarif-root nowhere: no such folder/);
  });

  it('reports the verdict and the layer findings at or above --sarif-min-level, each under the rule of its severity', async () => {
    const sarifOf = async (level?: string) => {
      const result = await run(['audit', model, '--quick', '--no-fixes', '--quiet', '--format', 'sarif', ...(level ? ['--sarif-min-level', level] : [])]);
      return JSON.parse(result.stdout).runs[0];
    };
    // cnn2_c2: LL002 conv_1 medium, LL003 dense_1 medium, LL010 medium.
    assert.deepEqual(
      (await sarifOf()).results.map((r: { ruleId: string; level: string }) => `${r.ruleId} ${r.level}`),
      ['LL002/medium warning', 'LL003/medium warning', 'LL010/medium warning'],
    );
    const high = await sarifOf('high');
    assert.deepEqual(
      high.results.map((r: { ruleId: string }) => r.ruleId),
      ['LL010/medium'],
    );
    assert.deepEqual(high.properties.models[0].findingsLeftOut, { belowLevel: 2, overLimit: 0 });
    const rule = high.tool.driver.rules.find((r: { id: string }) => r.id === 'LL010/medium');
    assert.equal(rule.properties['security-severity'], '5.0');
  });
});
