// The verdict (issue 13, docs/verdict.md): about the training image, never low where the closed form stops or falls
// short (gradient matching goes on), the same on every surface, and never lowered by a broken file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { analyseModel } from '../../src/engine/analysis/analyseModel';
import type { ModelReport } from '../../src/engine/analysis/types';
import type { AttackReport } from '../../src/engine/attack/types';
import { auditFile } from '../../src/engine/jobs/audit';
import { defaultConfig } from '../../src/engine/config';
import { escapeMarkdown, nothingToLeak } from '../../src/engine/reports/format';
import { buildJsonReport } from '../../src/engine/reports/json';
import { buildSarifLog } from '../../src/engine/reports/sarif';
import { writeHtml } from '../../src/engine/reports/html';
import { writeMarkdown } from '../../src/engine/reports/markdown';
import { writeTable } from '../../src/engine/reports/table';
import type { ReportInput } from '../../src/engine/reports/input';
import { TOOL } from '../../src/engine/tool';
import { attackEvidence, withAttacks, withEvidence } from '../../src/engine/verdict/decide';
import { files, readModelFile } from './files';
import { encodeModel, node, removeTempDirs, tempDir, tensor, valueInfo, writeFile } from './onnx-helpers';

const ROOT = path.resolve(__dirname, '../..');
const generated = path.join(ROOT, 'test/fixtures/generated');
after(removeTempDirs);

async function analyse(file: string, fixes = false): Promise<ModelReport> {
  return analyseModel(await readModelFile(file), { fixes });
}

describe('never low where the closed form stops or falls short', () => {
  // Measured with an optimisation attack (research notes, issue 13): VGG-style 23 dB, conv/BN/max-pool 19 dB,
  // CNN6-d 21 dB; the small ResNet resisted at 4000 iterations, which is not safety either.
  for (const [fixture, stopsAt] of [
    ['vgg-style', /max_pool/],
    ['conv-bn-maxpool', /max_pool/],
    ['cnn6d', /conv_2 \(280 of 3468 input dimensions undetermined\)/],
    ['resnet-small', /global|residual|add/i],
  ] as const) {
    it(`${fixture}: at least medium, and the headline names where the closed form stops or falls short`, async () => {
      const report = await analyse(path.join(generated, fixture, 'model.onnx'));
      const { verdict } = report.model;
      assert.notEqual(verdict.severity, 'low', verdict.headline);
      assert.equal(report.model.severity, verdict.severity);
      assert.match(verdict.headline, stopsAt);
      const named = report.layers.some((l) => verdict.headline.includes(l.name));
      assert.ok(named, `the headline names a layer of the model: ${verdict.headline}`);
      assert.ok(verdict.evidence.some((e) => e.kind === 'gradient-matching' && e.identifiable === 'not-blocked'));
      assert.ok(
        report.layers.every((l) => l.severity !== 'high' || verdict.severity === 'high'),
        'no layer above its verdict',
      );
    });
  }

  it('CNN6 stays high on the closed form alone, with COPA and RA-i at their reference values', async () => {
    const report = await analyse(path.join(generated, 'cnn6/model.onnx'));
    assert.equal(report.model.verdict.severity, 'high');
    assert.deepEqual(
      report.model.verdict.evidence.map((e) => e.kind),
      ['closed-form'],
    );
    assert.equal(report.model.copaIndex, 0);
    assert.equal(report.model.raIndexCount, -972);
  });

  it('COPA and RA-i: null where the chain is broken (partial values kept), unchanged for LeNet and the hybrid targets', async () => {
    const vgg = await analyse(path.join(generated, 'vgg-style/model.onnx'));
    assert.equal(vgg.model.copaIndex, null);
    assert.equal(vgg.model.raIndexCount, null);
    assert.match(vgg.model.notApplicable!, /^not applicable: the closed-form chain is broken at max_pool/);
    assert.equal(typeof vgg.model.partial?.copaIndex, 'number');
    for (const [fixture, copa] of [
      ['lenet-sigmoid', 0],
      ['cnn2_c2', -1470],
      ['cnn3_c1', -2266],
    ] as const) {
      const report = await analyse(path.join(generated, fixture, 'model.onnx'));
      assert.equal(report.model.copaIndex, copa, fixture);
      assert.equal(report.model.notApplicable, undefined, fixture);
    }
  });
});

describe('an attack that rebuilt the image makes the verdict high and proven', () => {
  let report: ModelReport;
  before(async () => {
    report = await analyse(path.join(generated, 'cnn6d/model.onnx'));
  });

  /** An attack result as the runtime caches it for a model (the numbers are what a run could give). */
  function cachedAttack(psnr: number, ssim: number): AttackReport {
    const image = {
      image: 'chelsea.png',
      label: 3,
      recoveredLabel: 3,
      labelRule: 'bias' as const,
      labelRecovered: true,
      loss: 2.3,
      layers: [],
      reachedInput: true,
      quality: { mse: 0.01, psnr, psnr255: psnr + 48.13, ssim, clipped: { mse: 0.01, psnr, ssim } },
      seconds: { forward: 0, gradients: 0, labels: 0, solve: 1, refine: 0, total: 1 },
    };
    return {
      file: report.file,
      inputShape: [3, 32, 32],
      normalization: { mean: [0.5], std: [1] },
      gradientsFrom: 'simulated',
      refine: false,
      images: [image],
      verdict: '',
      warnings: [],
    };
  }

  it('rebuilt (PSNR ≥ 18 dB or SSIM ≥ 0.5): high, proven, on every surface', () => {
    const verdict = withAttacks(report.model.verdict, [cachedAttack(21.3, 0.7)], report.thresholds);
    assert.equal(verdict.severity, 'high');
    assert.equal(verdict.proven, true);
    assert.match(
      verdict.headline,
      /^Proven leak: the closed-form attack rebuilt 1 of 1 sample image from their gradients \(best PSNR 21\.3 dB, SSIM 0\.70\)\./,
    );
    // The whole report with that evidence: the model high, and the layer findings no longer held below it.
    const proven = withEvidence(report, [attackEvidence(cachedAttack(21.3, 0.7))]);
    assert.deepEqual(proven.model.verdict, verdict);
    assert.equal(proven.layers.find((l) => l.name === 'conv_2')!.severity, 'high');
    assert.equal(report.layers.find((l) => l.name === 'conv_2')!.severity, 'medium');
    assertSurfacesAgree([proven]);
  });

  it('resisted at its budget: never lowers the verdict, and the headline says what was tried', () => {
    const verdict = withAttacks(report.model.verdict, [cachedAttack(9.8, 0.2)], report.thresholds);
    assert.equal(verdict.severity, report.model.verdict.severity);
    assert.equal(verdict.proven, false);
    assert.match(verdict.headline, /did not rebuild the samples, which does not make it safe\.$/);
  });
});

describe('broken weights never lower the risk', () => {
  /** cnn6d's ONNX file with one value of an initializer changed. */
  function editedCopy(initializer: string, index: number, change: (v: number) => number): string {
    const model = onnx.ModelProto.decode(fs.readFileSync(path.join(generated, 'cnn6d/model.onnx')));
    const t = model.graph!.initializer!.find((i) => i.name === initializer)!;
    const raw = new Uint8Array(t.rawData!);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    view.setFloat32(4 * index, change(view.getFloat32(4 * index, true)), true);
    t.rawData = raw;
    return writeFile(tempDir(), 'model.onnx', onnx.ModelProto.encode(model).finish());
  }
  const kernelOf = (graphInitializers: string[]) => graphInitializers.find((n) => /conv_2/.test(n) && /weight|kernel/.test(n))!;
  let conv2Kernel: string;
  before(() => {
    const model = onnx.ModelProto.decode(fs.readFileSync(path.join(generated, 'cnn6d/model.onnx')));
    conv2Kernel = kernelOf(model.graph!.initializer!.map((i) => i.name!));
  });

  for (const [what, value] of [
    ['NaN', NaN],
    ['Infinity', Infinity],
  ] as const) {
    it(`a weight set to ${what} is a located read error naming the tensor and the index`, async () => {
      const file = editedCopy(conv2Kernel, 7, () => value);
      const outcome = await auditFile(file, defaultConfig(ROOT), { files, trusted: true });
      assert.equal(outcome.kind, 'failure');
      assert.ok(outcome.kind === 'failure');
      assert.equal(outcome.failure.code, 'bad-weights');
      assert.match(outcome.failure.where, /conv_2/);
      assert.equal(outcome.failure.reason, `tensor "${conv2Kernel}" holds ${what} at index 7`);
    });
  }

  it("one weight scaled by 1e30 leaves the layer's ranks, its risk and the model's verdict unchanged", async () => {
    const plain = await analyse(path.join(generated, 'cnn6d/model.onnx'));
    const scaled = await analyse(editedCopy(conv2Kernel, 7, (v) => v * 1e30));
    const conv2 = (r: ModelReport) => r.layers.find((l) => l.name === 'conv_2')!;
    const ranks = (r: ModelReport) => [conv2(r).metrics.rankK, conv2(r).metrics.rankW, conv2(r).metrics.rankU, conv2(r).risk];
    assert.deepEqual(ranks(scaled), ranks(plain));
    assert.deepEqual(ranks(plain), [1968, 1620, 3188, conv2(plain).risk]);
    assert.deepEqual(
      [scaled.model.severity, scaled.model.risk, scaled.model.verdict.headline],
      [plain.model.severity, plain.model.risk, plain.model.verdict.headline],
    );
  });

  it('a graph whose output does not depend on its input is a read error', async () => {
    const file = writeFile(
      tempDir(),
      'model.onnx',
      encodeModel({
        nodes: [node('Conv', ['x', 'w'], ['c']), node('Identity', ['b'], ['y'])],
        inputs: [valueInfo('x', [1, 1, 4, 4])],
        outputs: [valueInfo('y', [1, 2])],
        initializers: [tensor('w', [1, 1, 3, 3], Array(9).fill(0.5)), tensor('b', [1, 2], [0.1, 0.2])],
      }),
    );
    const outcome = await auditFile(file, defaultConfig(ROOT), { files, trusted: true });
    assert.ok(outcome.kind === 'failure', JSON.stringify(outcome));
    assert.equal(outcome.failure.code, 'invalid-model');
    assert.match(outcome.failure.reason, /^no output \("y"\) depends on the model input \("x"\): the graph is disconnected$/);
  });
});

describe('every surface shows the same verdict', () => {
  it('table, Markdown, HTML, JSON and SARIF agree on each fixture model: one severity and one headline', async () => {
    const reports: ModelReport[] = [];
    for (const name of fs.readdirSync(generated).sort()) {
      const file = path.join(generated, name, 'model.onnx');
      if (!fs.existsSync(file)) continue;
      // The quick audit (counts and bounds) is enough to check that the surfaces agree with whatever it decides.
      reports.push(analyseModel(await readModelFile(file), { fixes: false, maxFlopsPerModel: 0 }));
    }
    assert.ok(reports.length >= 15, `${reports.length} fixtures`);
    assertSurfacesAgree(reports);
  });

  it('a model with nothing to leak (no conv or dense layer reads the image) says so on every text surface', async () => {
    const file = writeFile(
      tempDir(),
      'activation-only.onnx',
      encodeModel({
        nodes: [node('Relu', ['x'], ['r'], {}, 'relu'), node('Sigmoid', ['r'], ['y'], {}, 'sigmoid')],
        inputs: [valueInfo('x', [1, 3, 8, 8])],
        outputs: [valueInfo('y', [1, 3, 8, 8])],
        initializers: [],
      }),
    );
    const report = await analyse(file);
    assert.ok(nothingToLeak(report.model.verdict));
    assert.deepEqual([report.model.verdict.severity, report.model.verdict.evidence], ['low', []]);
    assertSurfacesAgree([report], path.dirname(file));
    // The table shows the file and the headline, nothing else.
    const table = writeTable({ tool: TOOL, reports: [report], failures: [], baseDir: path.dirname(file) });
    assert.equal(table.split('\n\n')[0], `activation-only.onnx  (onnx, input 1x3x8x8, weights: file)\n${report.model.verdict.headline}`);
    assert.doesNotMatch(table, /risk|#\s+layer/);
  });
});

/** Each surface, rendered for these reports, shows each model's verdict severity and headline, and no other. */
function assertSurfacesAgree(reports: ModelReport[], baseDir = ROOT): void {
  const input: ReportInput = { tool: TOOL, reports, failures: [], baseDir };
  const json = buildJsonReport(input);
  const sarif = buildSarifLog(input).runs[0];
  const table = writeTable(input);
  const markdown = writeMarkdown(input);
  const html = writeHtml(input);
  const sarifLevel = { high: 'error', medium: 'warning', low: 'note' } as const;
  for (const [i, report] of reports.entries()) {
    const { severity, headline, risk } = report.model.verdict;
    const label = path.relative(baseDir, report.file);
    assert.equal(report.model.severity, severity, label);
    assert.equal(report.model.risk, risk, label);
    // JSON: the verdict object, and the model-level issue worded and ranked as it.
    assert.deepEqual([json.reports[i].model.verdict.severity, json.reports[i].model.verdict.headline], [severity, headline], label);
    const modelIssues = json.issues.filter((x) => x.ruleId === 'LL010' && x.file === report.file);
    assert.deepEqual(
      modelIssues.map((x) => [x.severity, x.message]),
      severity === 'low' ? [] : [[severity, headline]],
      label,
    );
    // SARIF: the model-level result's level and message, and the run's model properties.
    // The SARIF rule id is the rule at the result's severity ("LL010/medium": GitHub ranks alerts by the rule's score).
    const results = (sarif.results ?? []).filter(
      (r) => r.ruleId?.split('/')[0] === 'LL010' && r.locations?.[0].physicalLocation?.artifactLocation?.uri === label,
    );
    assert.deepEqual(
      results.map((r) => [r.level, r.message.text]),
      severity === 'low' ? [] : [[sarifLevel[severity], headline]],
      label,
    );
    const models = sarif.properties?.models as { severity: string; verdict: { headline: string } }[];
    assert.deepEqual([models[i].severity, models[i].verdict.headline], [severity, headline], label);
    // Text surfaces: the verdict word and the headline, as written by the one phrase writer; a model with nothing to
    // leak shows its headline without a risk (and no empty layer table).
    if (nothingToLeak(report.model.verdict)) {
      assert.match(headline, /^Nothing to leak/);
      assert.ok(table.includes(`${label}  (${report.format}, input`) && table.includes(`)\n${headline}\n`), `${label}: table`);
      assert.ok(markdown.includes(`: nothing to analyse\n\n**${escapeMarkdown(headline)}**`), `${label}: Markdown`);
      assert.ok(!table.includes(`LOW risk (${risk.toFixed(2)}): ${headline}`), `${label}: no risk in the table`);
    } else {
      assert.ok(table.includes(`${severity.toUpperCase()} risk (${risk.toFixed(2)}): ${headline}`), `${label}: table`);
      assert.ok(markdown.includes(`: ${severity.toUpperCase()} risk (${risk.toFixed(2)})\n\n**${escapeMarkdown(headline)}**`), `${label}: Markdown`);
    }
    assert.ok(html.includes(`<td class="${severity}">${severity}</td>`), `${label}: HTML severity`);
    assert.ok(html.includes(escapeHtml(headline)), `${label}: HTML headline`);
    // No layer finding above its verdict, in any surface's data.
    for (const layer of json.reports[i].layers) assert.ok(layer.severity !== 'high' || severity === 'high', `${label} ${layer.name}`);
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
