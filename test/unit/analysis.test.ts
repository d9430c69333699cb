// The leakage analysis on the project's fixtures reproduces docs/algorithm.md §4.5 (R-GAP CNN6 / CNN6-d, the hybrid-code
// targets), and gives asserted per-layer tables for residual, BatchNorm + max-pool, ReLU and depthwise networks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { readModelFile } from './files';
import { analyseModel } from '../../src/engine/analysis/analyseModel';
import type { LayerFinding, ModelReport } from '../../src/engine/analysis/types';
import { node, readSpec, removeTempDirs, tensor, valueInfo } from './onnx-helpers';

const generated = path.resolve(__dirname, '../fixtures/generated');

async function audit(relative: string, fixes = false): Promise<ModelReport> {
  return analyseModel(await readModelFile(path.join(generated, relative)), { fixes });
}

function ranks(layer: LayerFinding) {
  const m = layer.metrics;
  return [m.nX, m.nW, m.nZ, m.rankK, m.rankW, m.rankU, m.deficiency];
}

// docs/algorithm.md §4.5, R-GAP CNN6: n_x, n_w, n_z, rank K, rank W, rank U, deficiency per conv layer.
const CNN6_TABLE = [
  [3072, 576, 3468, 576, 3072, 3072, 0],
  [3468, 3888, 2916, 2928, 2916, 3468, 0],
  [2916, 11664, 2916, 2916, 2916, 2916, 0],
  [2916, 11664, 2916, 2916, 2916, 2916, 0],
  [2916, 20736, 1600, 2916, 1600, 2916, 0],
  [1600, 73728, 3200, 1600, 1600, 1600, 0],
];

for (const file of ['cnn6/model.onnx', 'cnn6/tfjs/model.json']) {
  test(`CNN6 (${file}): every layer determined, COPA 0, count RA-i −972`, async () => {
    const report = await audit(file);
    const convs = report.layers.filter((l) => l.op === 'conv');
    assert.deepEqual(convs.map(ranks), CNN6_TABLE);
    assert.ok(convs.every((l) => l.status === 'determined' && l.metrics.rankMethod === 'numerical'));
    assert.equal(report.model.copaIndex, 0);
    assert.equal(report.model.raIndexCount, -972);
    assert.equal(report.model.firstDeficientLayer, null);
    assert.equal(report.model.risk, 1);
    assert.equal(report.model.severity, 'high');
    // The closed form reaches the image: nothing stops it, COPA and RA-i apply, the verdict says how.
    assert.deepEqual(
      report.model.verdict.evidence.map((e) => e.kind),
      ['closed-form'],
    );
    assert.match(
      report.model.verdict.headline,
      /^Training image recoverable from one step's gradients in closed form \(risk 1\.00\): every layer's linear system/,
    );
    assert.match(convs[0].reason, /the image is fully recoverable/, 'the first layer reads the image');
    assert.equal(convs[1].ruleId, 'LL001');
    assert.equal(
      convs[1].reason,
      '36 filters of 3×3/2 over 12 channels give 2928 independent gradient equations for 3468 unknowns, and 2916 forward ' +
        'equations close the gap: its input feature map is fully recoverable.',
    );
    const dense = report.layers.find((l) => l.op === 'dense')!;
    assert.equal(dense.ruleId, 'LL003');
    assert.equal(dense.metrics.deficiency, 0);
  });
}

for (const file of ['cnn6d/model.onnx', 'cnn6d/tfjs/model.json']) {
  test(`CNN6-d (${file}): layer 2 rank K 1968, rank W 1620, rank U 3188, deficiency 280; COPA −233`, async () => {
    const report = await audit(file);
    const convs = report.layers.filter((l) => l.op === 'conv');
    assert.deepEqual(ranks(convs[1]), [3468, 2160, 1620, 1968, 1620, 3188, 280]);
    assert.deepEqual(
      convs.map((l) => l.metrics.deficiency),
      [0, 280, 0, 0, 0, 0],
    );
    assert.equal(convs[1].status, 'under-determined');
    assert.equal(convs[1].metrics.copaWeight, 5 / 6);
    assert.equal(convs[1].metrics.copaTerm, -233);
    assert.equal(report.model.copaIndex, -233);
    assert.equal(report.model.copaUnrounded, -233.333);
    assert.equal(report.model.raIndexCount, -708);
    assert.equal(report.model.firstDeficientLayer, convs[1].nodeId);
    assert.equal(
      convs[1].reason,
      '20 filters of 3×3/2 over 12 channels give 1968 independent gradient equations and 1620 forward equations for 3468 ' +
        'unknowns; together they fix only 3188, leaving 280 dimensions of its input feature map (8.1 %) unsolved.',
    );
    // The deficiency deep in the chain spreads to every layer below: the closed form falls short (its risk is low)...
    const closedForm = report.model.verdict.evidence.find((e) => e.kind === 'closed-form');
    assert.ok(closedForm?.kind === 'closed-form' && closedForm.risk < 0.3 && !closedForm.reachesImage, JSON.stringify(closedForm));
    // ...but gradient matching is not blocked by conv_2 (21 dB measured): never low, and the headline names the layer.
    assert.equal(report.model.severity, 'medium');
    assert.match(report.model.verdict.headline, /^Not proven safe: the closed-form attack falls short at conv_2 \(280 of 3468 input dimensions undetermined\)/);
    assert.ok(
      report.layers.every((l) => l.severity !== 'high'),
      'no layer finding above the verdict',
    );
  });
}

// docs/algorithm.md §4.5, hybrid-code targets: per-layer deficiencies and COPA index.
const HYBRID: [string, number[], number][] = [
  ['cnn2_c0', [2821], -2821],
  ['cnn2_c2', [1470], -1470],
  ['cnn2_c6', [189], -189],
  ['cnn3_c1', [0, 4533], -2266],
  ['cnn3_c5', [0, 4644], -2322],
  ['cnn4_c1', [0, 3965, 386], -2772],
];

for (const [network, deficiencies, copa] of HYBRID) {
  test(`${network}: deficiencies ${deficiencies.join(', ')}, COPA ${copa}`, async () => {
    const report = await audit(`${network}/model.onnx`);
    const convs = report.layers.filter((l) => l.op === 'conv');
    assert.deepEqual(
      convs.map((l) => l.metrics.deficiency),
      deficiencies,
    );
    assert.equal(report.model.copaIndex, copa);
  });
}

test('cnn2_c6: the whole deficiency is the 189 border pixels no window covers', async () => {
  const [conv] = (await audit('cnn2_c6/model.onnx')).layers;
  assert.equal(conv.metrics.uncovered, 189);
  assert.equal(conv.ruleId, 'LL006');
  assert.match(conv.reason, /189 input entries are never inside a window and cannot be recovered/);
  // Only the border is lost: the image itself is mostly exposed.
  assert.equal(conv.severity, 'high');
});

test('BatchNorm + max-pool + residual net: BN folded, max pool breaks the chain, identity skip pins the block input', async () => {
  const report = await audit('bn-maxpool-residual/model.onnx');
  const table = report.layers.map((l) => [l.description, l.status, l.metrics.nX, l.metrics.rankU, l.metrics.deficiency, l.ruleId]);
  assert.deepEqual(table, [
    ['Conv 3×3, 16 filters', 'determined', 3072, 3072, 0, 'LL001'],
    ['MaxPool 2×2/2', 'chain-broken', 16384, null, 12288, 'LL004'],
    ['Conv 3×3, 16 filters', 'determined', 4096, 4096, 0, 'LL001'],
    ['Conv 3×3, 16 filters', 'determined', 4096, 4096, 0, 'LL001'],
    ['Residual addition', 'determined', 4096, 4096, 0, 'LL001'],
    ['GlobalAvgPool', 'under-determined', 4096, 16, 4080, 'LL002'],
    ['Dense 16→10', 'determined', 16, 16, 0, 'LL003'],
  ]);
  const [conv1, maxPool] = report.layers;
  assert.ok(
    conv1.folded.some((id) => report.layers.every((l) => l.nodeId !== id)),
    'BatchNormalization folded into conv 1',
  );
  assert.equal(conv1.activation, 'Relu');
  assert.equal(
    maxPool.reason,
    'Max pooling breaks the closed-form chain: the attacker does not know which inputs were selected, so 12288 of 16384 ' +
      'dimensions are lost to the closed-form attack; gradient matching can still continue.',
  );
  assert.equal(report.model.coverage.chainBroken, 1);
  // Max pooling and global pooling stand between the output and the image: they stop the closed form (its risk is
  // low), not gradient matching. The model is medium, its headline names where the closed form stops, COPA and RA-i
  // do not apply, and the dense head's LL003 is evidence for the verdict, not a separate high alarm.
  assert.equal(report.model.severity, 'medium');
  assert.match(report.model.verdict.headline, /^Not proven safe: the closed-form attack stops at global_avg_pool\w* \(global pooling\)/);
  assert.equal(report.model.copaIndex, null);
  assert.match(report.model.notApplicable!, /^not applicable: the closed-form chain is broken at max_pool/);
  assert.equal(typeof report.model.partial?.copaIndex, 'number');
  assert.equal(report.layers[6].severity, 'medium');
  assert.equal(report.layers[6].risk, 1);
});

test('ReLU net: R-CONV treatment keeps gradient rows, and the strided second layer is under-determined', async () => {
  const report = await audit('relu-net/model.onnx');
  const [conv1, conv2, dense] = report.layers;
  assert.equal(conv1.activation, 'Relu');
  assert.equal(conv1.status, 'determined');
  assert.match(conv1.reason, /ReLU keeps forward equations only for active units, R-CONV/);
  assert.equal(conv2.status, 'under-determined');
  // Forward equations only for the active units: about half of the 4096 outputs (2020 with the seeded pattern),
  // so the naive count nX − nW − nZ = 8192 − 1152 − 2020 is a lower bound on the deficiency.
  assert.equal(conv2.metrics.nZ, 2020);
  assert.ok(conv2.metrics.rankW! <= conv2.metrics.nZ);
  assert.ok(conv2.metrics.deficiency! >= 8192 - (1152 + 2020), `deficiency ${conv2.metrics.deficiency}`);
  assert.equal(conv2.ruleId, 'LL002');
  assert.equal(dense.ruleId, 'LL003');
  assert.equal(dense.risk, 1);
});

test('depthwise net: depthwise and pointwise convs determined, average pooling loses 3/4 of its input', async () => {
  const report = await audit('depthwise-net/model.onnx');
  const table = report.layers.map((l) => [l.description, l.status, l.metrics.nX, l.metrics.rankK, l.metrics.rankU, l.metrics.deficiency]);
  assert.deepEqual(table, [
    ['Conv 3×3, 16 filters', 'determined', 3072, 432, 3072, 0],
    ['depthwise Conv 3×3, 16 filters', 'determined', 16384, 144, 16384, 0],
    ['Conv 1×1, 32 filters', 'determined', 16384, 512, 16384, 0],
    ['AvgPool 2×2/2', 'under-determined', 32768, 0, 8192, 24576],
    ['Dense 8192→10', 'determined', 8192, 8192, 8192, 0],
  ]);
  assert.equal(
    report.layers[3].reason,
    'Average pooling has no weights: 8192 independent forward equations for 32768 unknowns leave 24576 dimensions (75.0 %) that only constraints from earlier layers can restore.',
  );
});

test('fixes are proven by re-analysis: fewer filters in LeNet conv 1 make it under-determined', async () => {
  const report = await audit('lenet-sigmoid/model.onnx', true);
  const conv1 = report.layers[0];
  const fewer = conv1.fixes.find((f) => 'outChannels' in f.change)!;
  assert.ok(fewer, 'a fewer-filters fix is proposed');
  assert.equal(fewer.before.layerDeficiency, 0);
  assert.ok(fewer.after.layerDeficiency! > 0);
  assert.ok(fewer.after.modelRisk < fewer.before.modelRisk);
  assert.ok(fewer.after.copa < fewer.before.copa);
  for (const fix of conv1.fixes) assert.ok(fix.after.modelRisk < fix.before.modelRisk || fix.after.layerRisk < fix.before.layerRisk);
});

test('a layer that cannot be analysed is never reported as safe', async () => {
  const report = analyseModel(await readModelFile(path.resolve(__dirname, '../fixtures/third-party/onnx-light-bvlc-alexnet/model.onnx')), { fixes: false });
  const lrn = report.layers.filter((l) => l.status === 'not-analysed');
  assert.ok(lrn.length > 0);
  for (const l of lrn) {
    assert.equal(l.ruleId, 'LL005');
    assert.match(l.reason, /treated as exposing its input/);
  }
});

test('unanalysed layers pass everything through: the model is not made safe by ops LeakLint does not model', async () => {
  // Exp → Exp → Exp → Gemm: three unsupported ops before a biased dense layer that reads them.
  const spec = {
    nodes: [node('Exp', ['x'], ['e0']), node('Exp', ['e0'], ['e1']), node('Exp', ['e1'], ['e2']), node('Gemm', ['e2', 'w', 'b'], ['y'], { transB: 1 })],
    inputs: [valueInfo('x', [1, 48])],
    outputs: [valueInfo('y', [1, 10])],
    initializers: [
      tensor(
        'w',
        [10, 48],
        Array.from({ length: 480 }, (_, i) => Math.sin(i)),
      ),
      tensor('b', [10], Array(10).fill(0.1)),
    ],
  };
  const report = analyseModel(await readSpec(spec), { fixes: false });
  const unanalysed = report.layers.filter((l) => l.status === 'not-analysed');
  assert.equal(unanalysed.length, 3);
  for (const l of unanalysed) {
    assert.equal(l.ruleId, 'LL005');
    assert.notEqual(l.severity, 'low');
  }
  assert.equal(report.model.risk, 1);
  assert.equal(report.model.coverage.notAnalysed, 3);
  removeTempDirs();
});

test('ResNet-50: identity skips are joint blocks, projection skips are reported as not analysed', async () => {
  const report = analyseModel(await readModelFile(path.resolve(__dirname, '../fixtures/third-party/onnx-light-resnet50/model.onnx')), { fixes: false });
  const additions = report.layers.filter((l) => l.op === 'residual');
  assert.equal(additions.length, 16);
  // ResNet-50 has one projection shortcut per stage (4) and 12 identity shortcuts.
  assert.equal(additions.filter((l) => l.status === 'not-analysed').length, 4);
  assert.equal(additions.filter((l) => l.status === 'determined').length, 12);
  for (const l of additions.filter((a) => a.status === 'not-analysed')) assert.equal(l.ruleId, 'LL005');
});
