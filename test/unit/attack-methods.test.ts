// The attack's methods (src/engine/attack/methods.ts, docs/gradient-graph.md): closed form, gradient matching
// (Inverting Gradients on the native runtime), hybrid and auto, on the project's fixtures with few iterations (these
// tests check the plumbing; test/unit/gradient-matching-attack.test.ts runs the documented budget). Also captured
// gradients measured against a given image, the JSON without non-numbers, and the verdict the attack's evidence gives
// (in the engine and through audit --attack).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { readModelFile, files } from './files';
import { runAttack, type AttackRunOptions } from '../../src/engine/attack/attack';
import type { LayerGraph } from '../../src/engine/ir';
import type { AttackReport, MatchingProgress } from '../../src/engine/attack/types';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { INVERTING_GRADIENTS_DEFAULTS, type GradientRuntime } from '../../src/engine/attack/invertingGradients';
import { GradientMatchingUnavailableError } from '../../src/engine/attack/methods';
import { createGradientSession } from '../../src/worker/gradientSession';
import { loadImageFiles } from '../../src/engine/images/modelInput';
import { decodeImage } from '../../src/engine/images/codec';
import { encodeSafetensors } from '../../src/engine/readers/safetensors';
import { attackJson } from '../../src/engine/reports/attack';
import { attackEvidence, withAttackReports } from '../../src/engine/verdict/decide';
import { analyseModel } from '../../src/engine/analysis/analyseModel';
import { bundledSamplesFolder } from '../../src/node/bundle';

process.env.ORT_DISABLE_TELEMETRY = '1';

const ROOT = path.resolve(__dirname, '../..');
const generated = path.join(ROOT, 'test/fixtures/generated');
const CENTRED = { mean: [0.5], std: [1] };
/** The worker's native capability, in this process: one onnxruntime-node session per gradient graph. */
const nativeRuntime: GradientRuntime = (graph) => createGradientSession(graph, { threads: 1 });
/** Few iterations: these tests check what runs and what is reported, not how good the image gets. */
const QUICK = { iterations: 60, restarts: 1 };

const model = (name: string) => readModelFile(path.join(generated, name, 'model.onnx'));

async function attack(graph: LayerGraph | Promise<LayerGraph>, options: Partial<AttackRunOptions> = {}): Promise<AttackReport> {
  return (await runAttack(await graph, { files, imageFolder: bundledSamplesFolder(), maxImages: 1, normalization: CENTRED, ...options })).report;
}

/** The budget the verdict names for an attack that did not rebuild the images (the same attack, unmeasured). */
function budgetOf(report: AttackReport): string | undefined {
  return attackEvidence({ ...report, images: report.images.map((i) => ({ ...i, quality: undefined })) }).budget;
}

describe('the attack methods', () => {
  test('auto keeps the closed form where it determines the image: no gradient matching on CNN6', async () => {
    const report = await attack(model('cnn6'), { gradientRuntime: nativeRuntime, ...QUICK });
    const [image] = report.images;
    assert.equal(report.method, 'auto');
    assert.equal(image.method, 'closed-form');
    assert.equal(image.gradientMatching, undefined);
    assert.ok(image.quality!.psnr > 100);
  });

  test('gradient matching runs where the closed form stops (max pooling), and the report says which method made the image', async () => {
    const progress: MatchingProgress[] = [];
    const report = await attack(model('conv-bn-maxpool'), {
      gradientRuntime: nativeRuntime,
      previews: true,
      ...QUICK,
      onProgress: (_done, _total, _label, detail) => void (detail && progress.push(detail)),
    });
    const [image] = report.images;
    assert.match(image.stoppedAt!.reason, /max pooling/);
    assert.equal(image.reachedInput, true, 'gradient matching rebuilt an image');
    assert.equal(image.method, 'gradient-matching');
    const run = image.gradientMatching!;
    assert.equal(run.start, 'noise');
    assert.equal(run.iterations, QUICK.iterations);
    assert.equal(run.runs, 1);
    assert.ok(run.curve.length > 1 && run.curve.at(-1)! < run.curve[0], 'the loss curve goes down');
    assert.ok(image.quality && Number.isFinite(image.quality.psnr));
    assert.deepEqual(report.gradientMatching, {
      iterations: QUICK.iterations,
      restarts: 1,
      tvWeight: INVERTING_GRADIENTS_DEFAULTS.tvWeight,
      learningRate: 0.1,
    });
    // Live progress: the loss and a small PNG of the current image.
    assert.ok(progress.length >= 1);
    const last = progress.at(-1)!;
    assert.equal(last.image, image.image);
    assert.ok(last.loss > 0);
    const preview = decodeImage(last.preview!.png);
    assert.deepEqual([preview.width, preview.height], [32, 32]);
  });

  test('hybrid: gradient matching starts from the closed form image where the closed form falls short (a deficient first layer)', async () => {
    const report = await attack(model('cnn2_c2'), { gradientRuntime: nativeRuntime, method: 'hybrid', ...QUICK });
    const [image] = report.images;
    assert.equal(report.method, 'hybrid');
    const run = image.gradientMatching!;
    assert.equal(run.runs, 1, 'one run, from the closed form image');
    assert.equal(run.start, 'closed-form');
    assert.ok(run.closedFormLoss !== undefined && run.loss <= run.closedFormLoss);
    assert.ok(image.method === 'hybrid' || image.method === 'closed-form', image.method);
    assert.ok(image.layers.length > 0, 'the closed form layers are reported');
    assert.equal(budgetOf(report), "60 iterations from the closed form's image");
  });

  test('auto where the closed form falls short scores the hybrid run and the runs from noise by the objective', async () => {
    const report = await attack(model('cnn2_c2'), { gradientRuntime: nativeRuntime, iterations: 60, restarts: 2 });
    const run = report.images[0].gradientMatching!;
    assert.equal(run.runs, 3, "the closed form's image and two noise starts");
    assert.ok(run.closedFormLoss !== undefined);
    assert.equal(budgetOf(report), "60 iterations × 2 restarts and a run from the closed form's image");
    assert.equal(report.images[0].method, run.start === 'noise' ? 'gradient-matching' : run.loss < run.closedFormLoss! ? 'hybrid' : 'closed-form');
  });

  test('closed-form never runs gradient matching; gradient-matching skips the closed form', async () => {
    const closed = await attack(model('conv-bn-maxpool'), { gradientRuntime: nativeRuntime, method: 'closed-form' });
    assert.equal(closed.images[0].reachedInput, false);
    assert.equal(closed.gradientMatching, undefined);
    const matching = await attack(model('cnn6'), { gradientRuntime: nativeRuntime, method: 'gradient-matching', ...QUICK });
    assert.equal(matching.images[0].method, 'gradient-matching');
    assert.deepEqual(matching.images[0].layers, []);
    assert.equal(matching.images[0].labelRecovered, true);
  });

  test('without the native runtime: gradient matching is refused, and auto says in the report that it did not run', async () => {
    await assert.rejects(attack(model('vgg-style'), { method: 'gradient-matching' }), GradientMatchingUnavailableError);
    const report = await attack(model('vgg-style'), { gradientRuntimeUnavailable: 'gradient matching did not run: untrusted workspace (test)' });
    assert.equal(report.images[0].reachedInput, false);
    assert.equal(report.gradientMatching!.unavailable, 'gradient matching did not run: untrusted workspace (test)');
    assert.ok(report.warnings.includes(report.gradientMatching!.unavailable!));
    assert.match(report.verdict, /stopped before the image .*untrusted workspace \(test\).*does not make the model safe/);
  });

  test('a time budget ends gradient matching early with its best image, and the budget says so', async () => {
    const report = await attack(model('conv-bn-maxpool'), { gradientRuntime: nativeRuntime, iterations: 1_000_000, restarts: 2, timeBudgetMs: 1000 });
    const run = report.images[0].gradientMatching!;
    assert.equal(run.stoppedBy, 'time');
    assert.ok(run.iterations > 0 && run.iterations < 1_000_000);
    assert.ok(report.images[0].quality);
    assert.match(attackEvidence(report).budget!, /^1000000 iterations × 2 restarts, cut short by the time budget$/);
  });
});

describe('captured gradients and the JSON', () => {
  test('--gradients with --image measures the reconstruction against that image; the JSON holds numbers or null, never "NaN"', async () => {
    // A client's step simulated by the engine, written as a client would share it: no __input__ in the file.
    const graph = await model('cnn6');
    const net = AttackNetwork.fromGraph(graph);
    const imageFile = path.join(ROOT, 'test/fixtures/sample-images/32x32/chelsea.png');
    const [sample] = await loadImageFiles(files, [imageFile], net.inputShape, CENTRED);
    const { trace, step } = net.trainingStep(sample.input, 3);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-captured-'));
    const shared = path.join(dir, 'shared.safetensors');
    fs.writeFileSync(shared, encodeSafetensors(net.namedGradients(step, trace), 'F64'));

    const report = await attack(graph, { gradientsFile: shared, imageFiles: [imageFile], method: 'closed-form' });
    const [image] = report.images;
    assert.equal(image.image, 'chelsea.png');
    assert.equal(image.recoveredLabel, 3);
    assert.ok(image.quality!.psnr > 100, `PSNR ${image.quality?.psnr}`);
    assert.ok(image.relativeError! < 1e-9);
    const json = attackJson(report);
    assert.doesNotMatch(json, /"(NaN|-?Infinity)"/);
    const parsed = JSON.parse(json);
    assert.equal(parsed.images[0].loss, null, 'nobody computed the training loss of shared gradients');
    assert.ok(parsed.images[0].quality.psnr === null || parsed.images[0].quality.psnr > 100);

    // The CLI, through the background worker.
    const out = path.join(dir, 'out');
    const run = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'dist/cli.js'),
        'attack',
        path.join(generated, 'cnn6/model.onnx'),
        '--gradients',
        shared,
        '--image',
        imageFile,
        '--mean',
        '0.5',
        '--method',
        'closed-form',
        '--out',
        out,
      ],
      { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } },
    );
    assert.equal(run.status, 0, run.stderr);
    const written = fs.readFileSync(path.join(out, 'chelsea.json'), 'utf8');
    assert.doesNotMatch(written, /"(NaN|-?Infinity)"/);
    assert.ok(fs.existsSync(path.join(out, 'chelsea-side-by-side.png')), 'the true image is shown beside the reconstruction');
    assert.match(run.stdout, /chelsea\.png .*(∞|\d+\.\d dB) +1\.000/, 'PSNR and SSIM are reported');
    const folder = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'dist/cli.js'),
        'attack',
        path.join(generated, 'cnn6/model.onnx'),
        '--gradients',
        shared,
        '--image',
        path.dirname(imageFile),
        '--out',
        out,
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(folder.status, 2);
    assert.match(folder.stderr, /--image takes the one image/);
  });
});

describe('the verdict from the attack', () => {
  test('a rebuilt image makes the model high and proven; the evidence names the method and the budget', async () => {
    // conv-bn-maxpool: max pooling stops the closed form, so the static verdict is medium ("not proven safe").
    const graph = await model('conv-bn-maxpool');
    const audit = analyseModel(graph, { fixes: false });
    assert.equal(audit.model.verdict.severity, 'medium');
    const report = await attack(graph, {
      gradientRuntime: nativeRuntime,
      imageFiles: [path.join(bundledSamplesFolder(), 'camera.png')],
      normalization: { mean: [0], std: [1] },
      iterations: 2000,
      restarts: 1,
    });
    const evidence = attackEvidence(report);
    assert.equal(evidence.outcome, 'rebuilt', JSON.stringify(report.images[0].quality?.clipped));
    assert.equal(evidence.method, 'gradient-matching attack (Inverting Gradients)');
    assert.equal(evidence.budget, '2000 iterations × 1 restart');
    assert.match(
      report.verdict,
      /^Attack: the gradient-matching attack \(Inverting Gradients\) rebuilt 1 of 1 sample image from their gradients at 2000 iterations × 1 restart \(best PSNR \d+\.\d dB/,
    );
    const proven = withAttackReports(audit, [report]);
    assert.equal(proven.model.verdict.severity, 'high');
    assert.equal(proven.model.severity, 'high');
    assert.equal(proven.model.verdict.proven, true);
    assert.match(proven.model.verdict.headline, /^Proven leak: the gradient-matching attack/);
    assert.equal(withAttackReports(audit, [{ ...report, file: 'another.onnx' }]), audit, 'attacks on other files are no evidence');
  });

  test('audit --attack: the attack that rebuilt an image makes the model high and proven in the JSON, SARIF, Markdown and table reports', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-audit-gm-'));
    const run = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'dist/cli.js'),
        'audit',
        path.join(generated, 'conv-bn-maxpool/model.onnx'),
        '--attack',
        '--attack-images',
        '1',
        '--attack-restarts',
        '1',
        '--no-fixes',
        '--format',
        'json,sarif,markdown,table',
        '--out',
        out + path.sep,
      ],
      { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } },
    );
    const json = JSON.parse(fs.readFileSync(path.join(out, 'leaklint-report.json'), 'utf8'));
    const attackImage = json.attacks[0].images[0];
    assert.equal(attackImage.method, 'gradient-matching', JSON.stringify(attackImage.quality?.clipped));
    const verdict = json.reports[0].model.verdict;
    assert.equal(verdict.severity, 'high');
    assert.equal(verdict.proven, true);
    assert.match(
      verdict.headline,
      /^Proven leak: the gradient-matching attack \(Inverting Gradients\) rebuilt 1 of 1 sample image .* at 2000 iterations × 1 restart/,
    );
    assert.equal(json.reports[0].model.severity, 'high');
    assert.equal(run.status, 1, `the default --fail-on high fails on the proven leak\n${run.stderr}`);
    const sarif = JSON.parse(fs.readFileSync(path.join(out, 'leaklint-report.sarif'), 'utf8'));
    const modelResult = sarif.runs[0].results.find((r: { ruleId: string }) => r.ruleId === 'LL010/high');
    assert.equal(modelResult.level, 'error');
    assert.ok(fs.readFileSync(path.join(out, 'leaklint-report.md'), 'utf8').includes(verdict.headline));
    assert.ok(fs.readFileSync(path.join(out, 'leaklint-report.txt'), 'utf8').includes(verdict.headline));
  });
});
