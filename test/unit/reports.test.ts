// Report writers (JSON, SARIF, Markdown, terminal table), the rule catalogue and the configuration,
// on hand-built reports with the numbers of docs/algorithm.md §4.5 (R-GAP CNN6-d) and a TF.js LeNet.
import { files } from './files';
import { decideVerdict, staticEvidence } from '../../src/engine/verdict/decide';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv from 'ajv';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import type * as Sarif from 'sarif';
import { RULES, getRule, isAtLeast, ruleHelpUri } from '../../src/engine/analysis/rules';
import type { Fix, LayerFinding, LayerMetrics, ModelReport } from '../../src/engine/analysis/types';
import { ConfigError, createIgnoreMatcher, effectiveSeverity, loadConfigFile, parseConfig } from '../../src/engine/config';
import type { SourceLocation } from '../../src/engine/ir';
import { collectIssues, failsOn, formatReport, type ReportInput } from '../../src/engine/reports';
import { buildJsonReport, writeJson } from '../../src/engine/reports/json';
import { writeMarkdown } from '../../src/engine/reports/markdown';
import { buildSarifLog, FINGERPRINT_KEY, MAX_LAYER_RESULTS_PER_MODEL } from '../../src/engine/reports/sarif';
import { writeTable } from '../../src/engine/reports/table';
import { compareWithBaseline, parseBaseline, riskBucket } from '../../src/engine/reports/baseline';

const ROOT = path.resolve(__dirname, '../..');
const SARIF_SCHEMA_FILE = path.join(ROOT, 'node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
const CONFIG_SCHEMA_FILE = path.join(ROOT, 'schemas/leaklint.config.schema.json');

/** A workspace folder the reports are relative to; the model paths need not exist except model.json (read for lines). */
const BASE = path.join(os.tmpdir(), 'leaklint-reports-test');
const ONNX_FILE = path.join(BASE, 'models', 'cnn6d.onnx');
const TFJS_FILE = path.join(BASE, 'models', 'lenet', 'model.json');
const BROKEN_FILE = path.join(BASE, 'models', 'broken.onnx');

// A pretty-printed TF.js model.json; finding locations point at the layer objects inside it.
const TFJS_TEXT = [
  '{',
  '  "format": "layers-model",',
  '  "modelTopology": {',
  '    "class_name": "Sequential",',
  '    "config": {',
  '      "layers": [',
  '        {"class_name": "Conv2D", "config": {"name": "conv2d_1", "filters": 6, "kernel_size": [5, 5]}},',
  '        {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d_1"}},',
  '        {',
  '          "class_name": "Dense",',
  '          "config": {"name": "dense_1", "units": 10}',
  '        }',
  '      ]',
  '    }',
  '  }',
  '}',
  '',
].join('\n');

function jsonLocation(marker: string, layerIndex: number): SourceLocation & { format: 'json' } {
  // Every layer object of TFJS_TEXT starts a line at column 9 ("        {").
  const offset = TFJS_TEXT.lastIndexOf('\n        {', TFJS_TEXT.indexOf(marker)) + 9;
  let depth = 0;
  let end = offset;
  for (; end < TFJS_TEXT.length; end++) {
    if (TFJS_TEXT[end] === '{') depth++;
    if (TFJS_TEXT[end] === '}' && --depth === 0) break;
  }
  const length = end + 1 - offset;
  return {
    format: 'json',
    offset,
    length,
    jsonPath: ['modelTopology', 'config', 'layers', layerIndex],
    range: { start: position(offset), end: position(offset + length) },
  };
}

/** 0-based line and column of an offset of TFJS_TEXT (the reader records these with every location). */
function position(offset: number): { line: number; character: number } {
  const before = TFJS_TEXT.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

function metrics(overrides: Partial<LayerMetrics>): LayerMetrics {
  return {
    nX: 0,
    nW: 0,
    nZ: 0,
    nBias: 0,
    naive: 0,
    uncovered: 0,
    rankK: null,
    rankW: null,
    rankU: null,
    deficiency: null,
    rankMethod: 'numerical',
    virtualConstraints: 0,
    raCount: 0,
    raNumerical: null,
    copaWeight: null,
    copaTerm: null,
    ...overrides,
  };
}

function layer(overrides: Partial<LayerFinding> & Pick<LayerFinding, 'nodeId' | 'index' | 'ruleId' | 'location'>): LayerFinding {
  return {
    name: overrides.nodeId,
    description: 'Conv',
    op: 'conv',
    inputShape: [1, 3, 32, 32],
    outputShape: [1, 12, 17, 17],
    folded: [],
    status: 'determined',
    metrics: metrics({}),
    risk: 0.9,
    severity: 'high',
    reason: 'reason',
    fixes: [],
    ...overrides,
  };
}

const conv1Fix: Fix = {
  title: 'Use stride 3 in conv1',
  change: { strides: [3, 3] },
  before: { layerDeficiency: 0, layerRisk: 0.95, modelRisk: 0.82, copa: -233 },
  after: { layerDeficiency: 1338, layerRisk: 0.12, modelRisk: 0.35, copa: -1571 },
};

const onnxLocation = (nodeIndex: number, nodeName: string): SourceLocation => ({ format: 'onnx', nodeIndex, nodeName });

const THRESHOLDS = { high: 0.7, medium: 0.3 };

const onnxReport: ModelReport = {
  file: ONNX_FILE,
  format: 'onnx',
  inputShape: [1, 3, 32, 32],
  weights: 'file',
  warnings: ['input dimension "batch" was dynamic; used 1'],
  seconds: 1.25,
  layers: [
    layer({
      nodeId: 'conv1',
      index: 0,
      description: 'Conv 4x4/2, 12 filters',
      inputShape: [1, 3, 32, 32],
      outputShape: [1, 12, 17, 17],
      activation: 'leakyRelu',
      metrics: metrics({
        nX: 3072,
        nW: 576,
        nZ: 3468,
        nBias: 0,
        naive: -972,
        rankK: 576,
        rankW: 3072,
        rankU: 3072,
        deficiency: 0,
        raCount: -972,
        raNumerical: -576,
        copaWeight: 1,
        copaTerm: 0,
      }),
      status: 'determined',
      risk: 0.95,
      severity: 'high',
      ruleId: 'LL001',
      reason: 'conv1 is determined: rank U = n_x = 3072, so its input (the image) is solved exactly from its gradients.',
      fixes: [conv1Fix],
      location: onnxLocation(0, 'conv1'),
    }),
    layer({
      nodeId: 'conv2',
      index: 1,
      description: 'Conv 3x3/2, 20 filters | pad 1',
      inputShape: [1, 12, 17, 17],
      outputShape: [1, 20, 9, 9],
      metrics: metrics({
        nX: 3468,
        nW: 2160,
        nZ: 1620,
        naive: -312,
        rankK: 1968,
        rankW: 1620,
        rankU: 3188,
        deficiency: 280,
        raCount: -708,
        raNumerical: 280,
        copaWeight: 5 / 6,
        copaTerm: -233,
      }),
      status: 'under-determined',
      risk: 0.41,
      severity: 'medium',
      ruleId: 'LL002',
      reason: 'conv2 leaves 280 of 3468 input dimensions unsolved (deficiency 280); the rest is solvable.',
      fixes: [],
      location: onnxLocation(2, 'conv2'),
    }),
    layer({
      nodeId: 'conv3',
      index: 2,
      description: 'Conv 3x3/1, 36 filters',
      inputShape: [1, 20, 9, 9],
      outputShape: [1, 36, 9, 9],
      metrics: metrics({
        nX: 1620,
        nW: 6480,
        nZ: 2916,
        naive: -7776,
        rankMethod: 'bound',
        bounds: { rankK: 1620, rankU: 1620 },
        deficiency: 0,
        raCount: -7776,
        copaWeight: 4 / 6,
        copaTerm: 0,
      }),
      status: 'determined',
      risk: 0.2,
      severity: 'low',
      ruleId: 'LL001',
      reason: 'conv3 is determined by its structural bounds (rank U ≤ 1620 = n_x).',
      location: onnxLocation(4, 'conv3'),
    }),
    layer({
      nodeId: 'custom_op',
      index: 3,
      description: 'MyAttention (unsupported)',
      op: 'unsupported',
      inputShape: [1, 36, 9, 9],
      outputShape: [1, 36, 9, 9],
      metrics: metrics({ nX: 2916, rankMethod: 'none' }),
      status: 'not-analysed',
      risk: 0.5,
      severity: 'medium',
      ruleId: 'LL005',
      reason: 'MyAttention is not supported; its leakage is unknown.',
      location: onnxLocation(6, 'custom_op'),
    }),
    layer({
      nodeId: 'fc',
      index: 4,
      description: 'Dense 2916→10',
      op: 'dense',
      inputShape: [1, 2916],
      outputShape: [1, 10],
      metrics: metrics({ nX: 2916, nW: 29160, nZ: 10, nBias: 10, naive: -26254, rankU: 2916, deficiency: 0 }),
      status: 'determined',
      risk: 0.97,
      severity: 'high',
      ruleId: 'LL003',
      reason: 'fc has a bias: one row of its weight gradient divided by the bias gradient is its input.',
      location: onnxLocation(8, 'fc'),
    }),
  ],
  model: {
    raIndexCount: -708,
    raIndexNumerical: 280,
    copaIndex: -233,
    copaUnrounded: -233.33,
    firstDeficientLayer: 'conv2',
    risk: 0.82,
    severity: 'high',
    // The engine's own verdict for these facts: the closed form gives it back (risk 0.82) though conv2 falls short.
    verdict: decideVerdict(
      staticEvidence(
        { risk: 0.82, hasImageLayers: true, stops: [{ nodeId: 'conv2', name: 'conv2', kind: 'under-determined', deficiency: 280, unknowns: 3468 }] },
        THRESHOLDS,
      ),
      THRESHOLDS,
    ),
    coverage: { numerical: 3, bound: 1, notAnalysed: 1, chainBroken: 0 },
  },
  thresholds: THRESHOLDS,
};

const tfjsReport: ModelReport = {
  file: TFJS_FILE,
  format: 'tfjs-layers',
  inputShape: [1, 1, 28, 28],
  weights: 'surrogate',
  warnings: [],
  seconds: 0.5,
  layers: [
    layer({
      nodeId: 'conv2d_1',
      index: 0,
      description: 'Conv 5x5/1, 6 filters',
      inputShape: [1, 1, 28, 28],
      outputShape: [1, 6, 24, 24],
      metrics: metrics({ nX: 784, nW: 150, nZ: 3456, nBias: 6, naive: -2822, rankK: 150, rankW: 784, rankU: 784, deficiency: 0, uncovered: 0 }),
      risk: 0.25,
      severity: 'low',
      ruleId: 'LL001',
      reason: 'conv2d_1 is determined, but the closed-form attack cannot reach it past max_pooling2d_1.',
      location: jsonLocation('"conv2d_1"', 0),
    }),
    layer({
      nodeId: 'max_pooling2d_1',
      index: 1,
      description: 'MaxPool 2x2',
      op: 'maxPool',
      inputShape: [1, 6, 24, 24],
      outputShape: [1, 6, 12, 12],
      metrics: metrics({ nX: 3456, nZ: 864, rankMethod: 'none' }),
      status: 'chain-broken',
      risk: 0.1,
      severity: 'low',
      ruleId: 'LL004',
      reason: 'Max pooling stops the closed-form attack here; gradient matching can continue.',
      location: jsonLocation('"max_pooling2d_1"', 1),
    }),
    layer({
      nodeId: 'dense_1',
      index: 2,
      description: 'Dense 864→10',
      op: 'dense',
      inputShape: [1, 864],
      outputShape: [1, 10],
      metrics: metrics({ nX: 864, nW: 8640, nZ: 10, nBias: 10, rankU: 864, deficiency: 0 }),
      risk: 0.9,
      severity: 'high',
      ruleId: 'LL003',
      reason: 'dense_1 has a bias: its input is one gradient row divided by the bias gradient.',
      location: jsonLocation('"dense_1"', 2),
    }),
  ],
  model: {
    raIndexCount: -2822,
    raIndexNumerical: -2822,
    copaIndex: 0,
    copaUnrounded: 0,
    firstDeficientLayer: null,
    risk: 0.3,
    severity: 'medium',
    // Max pooling stops the closed form (risk 0.2), but not gradient matching: not proven safe, medium.
    verdict: decideVerdict(
      staticEvidence(
        { risk: 0.2, hasImageLayers: true, stops: [{ nodeId: 'max_pooling2d_1', name: 'max_pooling2d_1', kind: 'max-pooling', unknowns: 3456 }] },
        THRESHOLDS,
      ),
      THRESHOLDS,
    ),
    coverage: { numerical: 2, bound: 0, notAnalysed: 0, chainBroken: 1 },
  },
  thresholds: THRESHOLDS,
};

const TOOL = { name: 'leaklint', version: '0.1.0', informationUri: 'https://github.com/leaklint/leaklint' };

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    tool: TOOL,
    reports: [onnxReport, tfjsReport],
    failures: [{ file: BROKEN_FILE, code: 'truncated', where: 'byte 1024', reason: 'the file ends inside node 3' }],
    baseDir: BASE,
    ...overrides,
  };
}

function sarifValidator(): (log: unknown) => void {
  const ajv = new AjvDraft04({ strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(fs.readFileSync(SARIF_SCHEMA_FILE, 'utf8')));
  return (log) => assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
}

describe('rules', () => {
  it('has unique ids and names, each documented in docs/rules.md', () => {
    const docs = fs.readFileSync(path.join(ROOT, 'docs/rules.md'), 'utf8');
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length);
    assert.equal(new Set(RULES.map((r) => r.name)).size, RULES.length);
    for (const rule of RULES) {
      assert.match(docs, new RegExp(`^## ${rule.id}$`, 'm'), `docs/rules.md has no "## ${rule.id}" heading`);
      assert.ok(docs.includes(rule.name), `docs/rules.md does not name ${rule.name}`);
      assert.ok(ruleHelpUri(rule.id).endsWith(`#${rule.id.toLowerCase()}`));
    }
  });

  it('orders severities', () => {
    assert.ok(isAtLeast('high', 'medium'));
    assert.ok(isAtLeast('medium', 'medium'));
    assert.ok(!isAtLeast('low', 'medium'));
  });
});

describe('issues and --fail-on', () => {
  it('lists every layer finding and the model-level issue, worded as the verdict, only for a risky model', () => {
    const issues = collectIssues(input());
    assert.equal(issues.length, onnxReport.layers.length + tfjsReport.layers.length + 2);
    const modelIssues = issues.filter((i) => i.ruleId === 'LL010');
    assert.deepEqual(
      modelIssues.map((i) => [i.report, i.severity, i.message]),
      [
        [onnxReport, 'high', onnxReport.model.verdict.headline],
        [tfjsReport, 'medium', tfjsReport.model.verdict.headline],
      ],
    );
    // A model the verdict finds low has no model-level issue (not a "low" one).
    const nothing = { ...tfjsReport, model: { ...tfjsReport.model, risk: 0, severity: 'low' as const, verdict: decideVerdict([], THRESHOLDS) } };
    assert.deepEqual(
      collectIssues(input({ reports: [nothing] })).filter((i) => i.ruleId === 'LL010'),
      [],
    );
    assert.match(nothing.model.verdict.headline, /^Nothing to leak/);
  });

  it('applies rule settings: severity overrides and "off"', () => {
    const issues = collectIssues(input({ rules: { LL003: 'low', LL004: 'off', LL010: 'off' } }));
    assert.ok(issues.every((i) => i.ruleId !== 'LL004' && i.ruleId !== 'LL010'));
    assert.ok(issues.filter((i) => i.ruleId === 'LL003').every((i) => i.severity === 'low'));
  });

  it('fails at or above the threshold', () => {
    const issues = collectIssues(input({ reports: [tfjsReport], rules: { LL003: 'medium' } }));
    assert.equal(failsOn(issues, 'high'), false);
    assert.equal(failsOn(issues, 'medium'), true);
    assert.equal(failsOn(issues, 'none'), false);
    assert.equal(failsOn([], 'low'), false);
  });
});

describe('JSON report', () => {
  it('round-trips the reports and records failures, issues and a summary', () => {
    const parsed = JSON.parse(writeJson(input()));
    assert.deepEqual(parsed.reports, JSON.parse(JSON.stringify([onnxReport, tfjsReport])));
    assert.equal(parsed.schemaVersion, 1);
    assert.deepEqual(parsed.tool, { name: 'leaklint', version: '0.1.0' });
    assert.deepEqual(parsed.failures, [{ file: BROKEN_FILE, code: 'truncated', where: 'byte 1024', reason: 'the file ends inside node 3' }]);
    assert.deepEqual(parsed.summary, { models: 2, failures: 1, issues: { high: 4, medium: 3, low: 3 } });
    const conv2 = parsed.issues.find((i: { nodeId?: string }) => i.nodeId === 'conv2');
    assert.deepEqual(conv2, {
      ruleId: 'LL002',
      severity: 'medium',
      file: ONNX_FILE,
      nodeId: 'conv2',
      layer: 'conv2',
      message: onnxReport.layers[1].reason,
      risk: 0.41,
    });
  });

  it('is deterministic without a time stamp and records one when given', () => {
    assert.equal(writeJson(input()), writeJson(input()));
    assert.equal('generatedAt' in buildJsonReport(input()), false);
    const stamped = buildJsonReport(input(), { generatedAt: new Date('2026-01-02T03:04:05Z') });
    assert.equal(stamped.generatedAt, '2026-01-02T03:04:05.000Z');
  });
});

describe('SARIF report', () => {
  const validate = sarifValidator();
  // Every finding as a result (the default leaves out layer findings below medium: tested below).
  const log = buildSarifLog(input(), { minLevel: 'low' });
  const run = log.runs[0];
  const results = run.results ?? [];
  /** A result's LeakLint rule: its SARIF rule id is the rule at the result's severity ("LL002/medium"). */
  const baseRule = (result: Sarif.Result): string => (result.ruleId ?? '').split('/')[0];
  const resultFor = (ruleId: string, nodeName: string): Sarif.Result => {
    const found = results.find((r) => baseRule(r) === ruleId && r.locations?.[0].logicalLocations?.[0].name === nodeName);
    assert.ok(found, `no ${ruleId} result for ${nodeName}`);
    return found;
  };

  it('validates against the SARIF 2.1.0 schema', () => {
    validate(log);
    validate(JSON.parse(formatReport('sarif', input({ rules: { LL006: 'off', LL001: 'medium' } }))));
    validate(buildSarifLog(input({ reports: [], failures: [] })));
  });

  it('declares every rule once per severity with help and a level, and points results at them', () => {
    const rules = run.tool.driver.rules ?? [];
    assert.deepEqual(
      rules.map((r) => r.id),
      RULES.flatMap((r) => [`${r.id}/high`, `${r.id}/medium`, `${r.id}/low`]),
    );
    for (const rule of rules) {
      assert.ok(rule.name && rule.shortDescription?.text && rule.fullDescription?.text && rule.help?.text && rule.helpUri);
      assert.ok(rule.defaultConfiguration?.level);
      assert.ok((rule.properties?.tags as string[]).includes('privacy'));
    }
    for (const result of results) assert.equal(rules[result.ruleIndex as number].id, result.ruleId);
  });

  it('gives each result the security-severity of its own level: no note or warning is a High alert on GitHub', () => {
    const rules = new Map((run.tool.driver.rules ?? []).map((r) => [r.id, r]));
    // GitHub: 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low; it reads the score from the rule a result names.
    const band = (score: number) => (score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : score > 0 ? 'low' : 'none');
    const expected = { error: 'high', warning: 'medium', note: 'low' } as const;
    assert.ok(results.some((r) => r.level === 'note') && results.some((r) => r.level === 'warning') && results.some((r) => r.level === 'error'));
    for (const result of results) {
      const rule = rules.get(result.ruleId!)!;
      assert.equal(rule.defaultConfiguration?.level, result.level, result.ruleId);
      assert.equal(band(Number(rule.properties?.['security-severity'])), expected[result.level as keyof typeof expected], result.ruleId);
    }
    // Rule LL001 defaults to high, but its low finding (conv3) names LL001/low.
    assert.equal(resultFor('LL001', 'conv3').ruleId, 'LL001/low');
  });

  it('maps severities to levels and uses the reason as message', () => {
    assert.equal(resultFor('LL001', 'conv1').level, 'error');
    assert.equal(resultFor('LL002', 'conv2').level, 'warning');
    assert.equal(resultFor('LL001', 'conv3').level, 'note');
    assert.equal(resultFor('LL002', 'conv2').message.text, onnxReport.layers[1].reason);
  });

  it('locates ONNX nodes by artifact and logical location, relative to SRCROOT', () => {
    const location = resultFor('LL002', 'conv2').locations?.[0];
    assert.deepEqual(location?.physicalLocation?.artifactLocation, { uri: 'models/cnn6d.onnx', uriBaseId: 'SRCROOT' });
    assert.equal(location?.physicalLocation?.region, undefined);
    assert.equal(location?.logicalLocations?.[0].fullyQualifiedName, 'models/cnn6d.onnx/node[2]:conv2');
    assert.equal(run.originalUriBaseIds?.SRCROOT.uri, `file://${BASE}/`);
  });

  it('locates model.json layers by offsets, lines and columns', () => {
    const expected = jsonLocation('"dense_1"', 2);
    const region = resultFor('LL003', 'dense_1').locations?.[0].physicalLocation?.region;
    assert.deepEqual(region, { charOffset: expected.offset, charLength: expected.length, startLine: 9, startColumn: 9, endLine: 12, endColumn: 10 });
    const convRegion = resultFor('LL001', 'conv2d_1').locations?.[0].physicalLocation?.region;
    assert.equal(convRegion?.startLine, 7);
    assert.equal(convRegion?.startColumn, 9);
    assert.equal(convRegion?.endLine, 7);
    assert.equal(
      TFJS_TEXT.split('\n')[6]
        .slice((convRegion?.startColumn ?? 0) - 1, (convRegion?.endColumn ?? 0) - 1)
        .endsWith('}}'),
      true,
    );
  });

  it('fingerprints results stably and distinctly', () => {
    const again = buildSarifLog(input(), { minLevel: 'low' }).runs[0].results ?? [];
    const prints = results.map((r) => r.partialFingerprints?.[FINGERPRINT_KEY]);
    assert.deepEqual(
      again.map((r) => r.partialFingerprints?.[FINGERPRINT_KEY]),
      prints,
    );
    assert.equal(new Set(prints).size, prints.length);
    assert.ok(prints.every((p) => /^[0-9a-f]{64}$/.test(p ?? '')));
  });

  it('reports the model verdict at the file and read failures as notifications', () => {
    const verdict = results.filter((r) => baseRule(r) === 'LL010');
    assert.deepEqual(
      verdict.map((r) => [r.level, r.message.text]),
      [
        ['error', onnxReport.model.verdict.headline],
        ['warning', tfjsReport.model.verdict.headline],
      ],
    );
    assert.deepEqual(verdict[0].locations?.[0].physicalLocation?.artifactLocation, { uri: 'models/cnn6d.onnx', uriBaseId: 'SRCROOT' });
    const invocation = run.invocations?.[0];
    assert.equal(invocation?.executionSuccessful, false);
    const errors = invocation?.toolExecutionNotifications?.filter((n) => n.level === 'error') ?? [];
    assert.equal(errors.length, 1);
    assert.equal(errors[0].message.text, 'byte 1024: the file ends inside node 3');
    assert.equal(errors[0].locations?.[0].physicalLocation?.artifactLocation?.uri, 'models/broken.onnx');
    const models = run.properties?.models as { file: string; copaIndex: number }[];
    assert.deepEqual(
      models.map((m) => [m.file, m.copaIndex]),
      [
        ['models/cnn6d.onnx', -233],
        ['models/lenet/model.json', 0],
      ],
    );
  });

  it('records rule settings as configuration overrides and drops rules set to off', () => {
    const configured = buildSarifLog(input({ rules: { LL004: 'off', LL003: 'medium' }, failures: [] }), { minLevel: 'low' }).runs[0];
    assert.ok((configured.results ?? []).every((r) => baseRule(r) !== 'LL004'));
    const ll003 = (configured.results ?? []).filter((r) => baseRule(r) === 'LL003');
    assert.ok(ll003.length > 0 && ll003.every((r) => r.level === 'warning' && r.ruleId === 'LL003/medium'));
    assert.equal(configured.invocations?.[0].executionSuccessful, true);
    // Off: every descriptor of the rule disabled; a fixed severity: the descriptors of the other severities.
    assert.deepEqual(configured.invocations?.[0].ruleConfigurationOverrides, [
      { descriptor: { id: 'LL004/high', index: 9 }, configuration: { enabled: false } },
      { descriptor: { id: 'LL004/medium', index: 10 }, configuration: { enabled: false } },
      { descriptor: { id: 'LL004/low', index: 11 }, configuration: { enabled: false } },
      { descriptor: { id: 'LL003/high', index: 6 }, configuration: { enabled: false } },
      { descriptor: { id: 'LL003/low', index: 8 }, configuration: { enabled: false } },
    ]);
  });

  it('uses absolute file URIs for models outside the base folder', () => {
    const outside = buildSarifLog(input({ baseDir: path.join(BASE, 'elsewhere'), failures: [] }));
    const uri = outside.runs[0].results?.[0].locations?.[0].physicalLocation?.artifactLocation;
    assert.deepEqual(uri, { uri: `file://${ONNX_FILE}` });
  });

  it('makes URIs relative to the SARIF root (the repository) when the models are outside the working folder', () => {
    const fromSubfolder = buildSarifLog(input({ baseDir: path.join(BASE, 'elsewhere'), failures: [] }), { root: BASE }).runs[0];
    assert.deepEqual(fromSubfolder.results?.[0].locations?.[0].physicalLocation?.artifactLocation, { uri: 'models/cnn6d.onnx', uriBaseId: 'SRCROOT' });
    assert.equal(fromSubfolder.originalUriBaseIds?.SRCROOT.uri, `file://${BASE}/`);
    // The fingerprints follow the path from the root: the same alerts whichever folder the run started in.
    const fromRoot = buildSarifLog(input({ failures: [] }), { root: BASE }).runs[0];
    assert.deepEqual(
      fromSubfolder.results?.map((r) => r.partialFingerprints),
      fromRoot.results?.map((r) => r.partialFingerprints),
    );
  });

  it('reports each model verdict and its layer findings at or above the minimum level (default medium)', () => {
    const byDefault = buildSarifLog(input()).runs[0];
    validate(buildSarifLog(input()));
    const kept = (byDefault.results ?? []).map((r) => [baseRule(r), r.locations?.[0].logicalLocations?.[0].name, r.level]);
    assert.deepEqual(kept, [
      ['LL001', 'conv1', 'error'],
      ['LL002', 'conv2', 'warning'],
      ['LL005', 'custom_op', 'warning'],
      ['LL003', 'fc', 'error'],
      ['LL010', 'cnn6d.onnx', 'error'],
      ['LL003', 'dense_1', 'error'],
      ['LL010', 'model.json', 'warning'],
    ]);
    const models = byDefault.properties?.models as { findingsLeftOut: { belowLevel: number; overLimit: number } }[];
    assert.deepEqual(
      models.map((m) => m.findingsLeftOut),
      [
        { belowLevel: 1, overLimit: 0 },
        { belowLevel: 2, overLimit: 0 },
      ],
    );
    // At "high", a medium model keeps its verdict and no medium layer finding.
    const high = (buildSarifLog(input(), { minLevel: 'high' }).runs[0].results ?? []).map((r) => r.ruleId);
    assert.deepEqual(high, ['LL001/high', 'LL003/high', 'LL010/high', 'LL003/high', 'LL010/medium']);
  });

  it('bounds the layer results per model, keeping the most severe and riskiest', () => {
    const many = {
      ...onnxReport,
      layers: Array.from({ length: 60 }, (_, i) => ({ ...onnxReport.layers[1], nodeId: `conv${i}`, name: `conv${i}`, index: i, risk: 0.3 + i / 200 })),
    };
    const sarif = buildSarifLog(input({ reports: [many], failures: [] })).runs[0];
    const layers = (sarif.results ?? []).filter((r) => baseRule(r) !== 'LL010');
    assert.equal(layers.length, MAX_LAYER_RESULTS_PER_MODEL);
    assert.deepEqual(
      layers.map((r) => r.locations?.[0].logicalLocations?.[0].name),
      Array.from({ length: MAX_LAYER_RESULTS_PER_MODEL }, (_, i) => `conv${60 - MAX_LAYER_RESULTS_PER_MODEL + i}`),
    );
    assert.deepEqual((sarif.properties?.models as { findingsLeftOut: object }[])[0].findingsLeftOut, {
      belowLevel: 0,
      overLimit: 60 - MAX_LAYER_RESULTS_PER_MODEL,
    });
    assert.equal((sarif.results ?? []).filter((r) => baseRule(r) === 'LL010').length, 1);
  });
});

describe('baseline', () => {
  const report = (issues: object[], baseDir?: string) => JSON.stringify({ schemaVersion: 1, ...(baseDir ? { baseDir } : {}), issues });
  const issue = (severity: string, risk: number, extra: object = {}) => ({
    ruleId: 'LL002',
    severity,
    risk,
    file: path.join(BASE, 'models/a.onnx'),
    nodeId: 'conv1',
    ...extra,
  });
  const finding = (severity: 'high' | 'medium' | 'low', risk: number) => ({ ruleId: 'LL002', severity, risk, file: 'models/a.onnx', nodeId: 'conv1' });

  it('calls a finding worse on a higher severity or a higher risk bucket (tenths), new when the baseline lacks it', () => {
    const baseline = parseBaseline(report([issue('medium', 0.41)], BASE), 'previous.json', '/elsewhere');
    assert.equal(compareWithBaseline(finding('medium', 0.41), baseline), 'unchanged');
    assert.equal(compareWithBaseline(finding('medium', 0.49), baseline), 'unchanged', 'same bucket');
    assert.equal(compareWithBaseline(finding('medium', 0.5), baseline), 'worse', 'next bucket');
    assert.equal(compareWithBaseline(finding('high', 0.41), baseline), 'worse');
    assert.equal(compareWithBaseline(finding('low', 0.9), baseline), 'unchanged', 'a lower severity is not worse');
    assert.equal(compareWithBaseline({ ...finding('medium', 0.41), nodeId: 'conv2' }, baseline), 'new');
    assert.equal(compareWithBaseline({ ...finding('medium', 0.41), ruleId: 'LL001' }, baseline), 'new');
    assert.equal(compareWithBaseline({ ...finding('medium', 0.41), file: 'other/a.onnx' }, baseline), 'new');
    assert.equal(riskBucket(0.3), 3);
    assert.equal(riskBucket(1), 10);
  });

  it('filters the issues every format reports, and the --fail-on check with them', () => {
    const all = collectIssues(input());
    const asBaseline = parseBaseline(writeJson(input()), 'previous.json', BASE);
    const against = input({ baseline: asBaseline });
    assert.deepEqual(collectIssues(against), []);
    assert.equal(failsOn(collectIssues(against), 'low'), false);
    assert.deepEqual(JSON.parse(writeJson(against)).summary.baseline, { file: 'previous.json', unchanged: all.length });
    assert.match(
      writeMarkdown(against),
      new RegExp(`issues: 0 high, 0 medium, 0 low; ${all.length} unchanged since the baseline \\(previous\\.json\\) not shown`),
    );
  });

  it('takes a report without baseDir relative to the current folder, and refuses what is not a JSON report', () => {
    const old = parseBaseline(report([issue('medium', 0.41)]), 'old.json', BASE);
    assert.equal(compareWithBaseline(finding('medium', 0.41), old), 'unchanged');
    assert.throws(() => parseBaseline('{', 'x.json', BASE), /^BaselineError: x\.json: not a JSON file/);
    assert.throws(() => parseBaseline('{"runs": []}', 'x.sarif', BASE), /x\.sarif: not a LeakLint JSON report/);
    assert.throws(
      () => parseBaseline(report([{ ruleId: 'LL002', severity: 'critical', risk: 1, file: 'a' }]), 'x.json', BASE),
      /x\.json: issues\[0\] is not a LeakLint issue/,
    );
  });
});

describe('Markdown report', () => {
  const markdown = writeMarkdown(input());

  it('summarises each model and tabulates its layers', () => {
    assert.match(markdown, /^# LeakLint report/);
    assert.match(markdown, /## `models\/cnn6d\.onnx`: HIGH risk \(0\.82\)\n\n\*\*Training image recoverable/);
    assert.match(markdown, /\*\*COPA index\*\*: -233 \(unrounded -233\.33\)/);
    assert.match(markdown, /\*\*Coverage\*\*: 3 numerical, 1 by bounds, 0 chain broken, 1 not analysed/);
    assert.ok(markdown.includes('| # | Layer | Op | Input → output | n_x | n_w | n_z | Rank K/W/U | Deficiency | Status | Risk | Rule |'));
    assert.ok(
      markdown.includes(
        '| 1 | `conv2` | Conv 3x3/2, 20 filters \\| pad 1 | 1×12×17×17 → 1×20×9×9 | 3468 | 2160 | 1620 | 1968/1620/3188 | 280 | under-determined | 0.41 |',
      ),
    );
    assert.ok(markdown.includes('≤1620/—/≤1620'), 'bound-only ranks are marked');
  });

  it('gives reasons and fixes with before → after', () => {
    assert.ok(markdown.includes(onnxReport.layers[1].reason));
    assert.ok(
      markdown.includes('Fix: Use stride 3 in conv1: layer deficiency 0 → 1338, layer risk 0.95 → 0.12, closed-form risk 0.82 → 0.35, COPA -233 → -1571'),
    );
    assert.match(markdown, /<details><summary>\d+ low-severity findings<\/summary>/);
  });

  it('lists unreadable models and warnings', () => {
    assert.match(markdown, /## Models that could not be read\n\n- `models\/broken\.onnx` \(byte 1024\): the file ends inside node 3 \(truncated\)/);
    assert.ok(markdown.includes('input dimension "batch" was dynamic; used 1'));
  });
});

describe('terminal table', () => {
  it('shows verdicts, layers, findings worth reading and a summary', () => {
    const table = writeTable(input());
    assert.match(table, /^models\/cnn6d\.onnx {2}\(onnx, input 1x3x32x32, weights: file\)$/m);
    assert.ok(table.includes(`HIGH risk (0.82): ${onnxReport.model.verdict.headline}\nCOPA -233  RA-i -708`));
    assert.match(
      table,
      /^\s*1 {2}conv2 +Conv 3x3\/2, 20 filters \| pad 1 +1x12x17x17 -> 1x20x9x9 +3468 +2160 +1620 +1968\/1620\/3188 +280 +under-determined +0\.41 +LL002 medium$/m,
    );
    assert.match(table, /^\s*2 {2}conv3 .* 0\.20 +LL001 low$/m);
    assert.match(table, /^MEDIUM LL002 conv2: conv2 leaves 280/m);
    assert.match(
      table,
      /^ +fix: Use stride 3 in conv1: layer deficiency 0 -> 1338, layer risk 0.95 -> 0.12, closed-form risk 0.82 -> 0.35, COPA -233 -> -1571$/m,
    );
    assert.doesNotMatch(table, /^LOW/m);
    // Read failures and warnings are the CLI's stderr lines (each error once); the table counts the failures.
    assert.doesNotMatch(table, /broken\.onnx|the file ends inside node 3/);
    assert.doesNotMatch(table, /warning|"batch" was dynamic/);
    assert.match(table, /2 model\(s\) analysed, 1 could not be read; issues: 4 high, 3 medium, 3 low\n$/);
  });
});

describe('configuration', () => {
  it('accepts a full config and fills defaults', () => {
    const config = parseConfig(
      { failOn: 'medium', thresholds: { high: 0.8, medium: 0.4 }, ignore: ['fixtures/**'], rules: { LL006: 'off' }, inputShape: [1, 3, 32, 32] },
      'leaklint.config.json',
      BASE,
    );
    assert.deepEqual(config, {
      failOn: 'medium',
      thresholds: { high: 0.8, medium: 0.4 },
      ignore: ['fixtures/**'],
      rules: { LL006: 'off' },
      inputShape: [1, 3, 32, 32],
      baseDir: BASE,
    });
    assert.deepEqual(parseConfig({}, 'settings', BASE), { failOn: 'high', ignore: [], rules: {}, baseDir: BASE });
  });

  it('rejects mistakes with a one-line reason', () => {
    const bad: [unknown, RegExp][] = [
      [[], /must be a JSON object/],
      [{ failon: 'high' }, /unknown key "failon"/],
      [{ failOn: 'critical' }, /"failOn" must be one of low, medium, high, none/],
      [{ thresholds: { high: 0.2, medium: 0.5 } }, /must not be above/],
      [{ thresholds: { high: 2, medium: 0.5 } }, /between 0 and 1/],
      [{ rules: { LL999: 'off' } }, /unknown rule "LL999"/],
      [{ rules: { LL001: 'critical' } }, /"rules.LL001" must be one of/],
      [{ ignore: 'x' }, /"ignore" must be an array/],
      [{ inputShape: [1, -3] }, /positive integers/],
      [{ identifiability: 'yes' }, /"identifiability" must be true, false or "exact"/],
    ];
    for (const [value, message] of bad) {
      assert.throws(
        () => parseConfig(value, 'cfg.json', BASE),
        (e: unknown) => e instanceof ConfigError && message.test(e.message) && !e.message.includes('\n'),
      );
    }
  });

  it('reads JSON with comments from a file, relative to its folder', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-config-'));
    const file = path.join(dir, 'leaklint.config.json');
    fs.writeFileSync(file, '{\n  // CI gate\n  "failOn": "low",\n}\n');
    assert.deepEqual(await loadConfigFile(files, file), { failOn: 'low', ignore: [], rules: {}, baseDir: dir });
    fs.writeFileSync(file, '{\n  "failOn": \n}');
    await assert.rejects(() => loadConfigFile(files, file), /invalid JSON at line 3: ValueExpected/);
    fs.rmSync(dir, { recursive: true });
  });

  it('matches ignore entries like .gitignore', () => {
    const ignored = createIgnoreMatcher(['test/fixtures/**', '*.quant.onnx', 'scratch', '/abs/elsewhere/x.onnx'], '/repo');
    assert.ok(ignored('/repo/test/fixtures/a/model.onnx'));
    assert.ok(ignored('/repo/models/resnet.quant.onnx'));
    assert.ok(ignored('/repo/a/scratch/model.json'));
    assert.ok(ignored('/repo/scratch'));
    assert.ok(!ignored('/repo/models/resnet.onnx'));
    assert.ok(!ignored('/repo/test/fixturesx/model.onnx'));
    assert.ok(ignored('/abs/elsewhere/x.onnx'));
    assert.ok(!createIgnoreMatcher([], '/repo')('/repo/anything.onnx'));
  });

  it('applies rule settings to severities', () => {
    assert.equal(effectiveSeverity('LL006', 'low', { LL006: 'off' }), 'off');
    assert.equal(effectiveSeverity('LL001', 'low', { LL001: 'high' }), 'high');
    assert.equal(effectiveSeverity('LL002', 'medium', {}), 'medium');
    assert.equal(getRule('LL005')?.defaultSeverity, 'medium');
  });

  it('has a JSON schema that accepts what parseConfig accepts', () => {
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(CONFIG_SCHEMA_FILE, 'utf8')));
    const good = {
      $schema: './schemas/leaklint.config.schema.json',
      failOn: 'none',
      thresholds: { high: 0.7, medium: 0.3 },
      ignore: ['a/**'],
      rules: { LL006: 'off', LL010: 'medium' },
      inputShape: [1, 28, 28, 1],
      identifiability: 'exact',
    };
    assert.ok(validate(good), JSON.stringify(validate.errors));
    assert.equal(parseConfig(good, 'good', BASE).identifiability, 'exact');
    assert.ok(!validate({ identifiability: 'yes' }));
    const named = { inputShape: { x: [1, 3, 48, 192], h: [2, 1, 64] } };
    assert.ok(validate(named), JSON.stringify(validate.errors));
    assert.deepEqual(parseConfig(named, 'named', BASE).inputShape, { named: named.inputShape });
    for (const bad of [
      { failon: 'high' },
      { rules: { LL999: 'off' } },
      { rules: { LL001: 'critical' } },
      { inputShape: [0] },
      { inputShape: {} },
      { inputShape: { x: [1, 'a'] } },
      { thresholds: { high: 0.5 } },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
      assert.throws(() => parseConfig(bad, 'bad', BASE), ConfigError);
    }
  });
});
