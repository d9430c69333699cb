// Names from a model file are data, never output control (issue 12, fault 2): a newline and ANSI escapes in an input
// name must not forge a "leaklint: all models clean" line, and <script>, links, table syntax, bidirectional overrides
// and zero-width characters in layer names must come out as visible text in the terminal, Markdown, HTML, SARIF and
// JSON. The models are real files with hostile names, audited by the real command line.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import MarkdownIt from 'markdown-it';
import { onnx } from 'onnx-proto';
import { escapeHtml, escapeMarkdown, jsonText, markdownCode, plainText, renderMarkdownTable } from '../../src/engine/reports/format';
import { assertTerminalSafe, ROOT, run, sarifValidator } from './cli-run';
import { FORGED_LINE, HOSTILE_NAMES } from './hostile-names';
import { encodeModel, node, removeTempDirs, tempDir, tensor, valueInfo } from './onnx-helpers';

const FORGED = FORGED_LINE;
const HOSTILE = HOSTILE_NAMES;

let dir: string;
let models: string;
let broken: string;
/** The hostile name of each node of the renamed LeNet, by its original name. */
const renamed = new Map<string, string>();

before(() => {
  dir = tempDir('leaklint-model-text-');
  models = path.join(dir, 'models');
  broken = path.join(dir, 'broken');
  fs.mkdirSync(models);
  fs.mkdirSync(broken);

  // DLG's LeNet (it gets fixes, so "Fix:" lines quote the names) with every node and the input renamed: its four
  // layers (three convs and a dense) carry two hostile strings each.
  const lenet = onnx.ModelProto.decode(fs.readFileSync(path.join(ROOT, 'test/fixtures/generated/lenet-sigmoid/model.onnx')));
  let layer = 0;
  lenet.graph!.node!.forEach((n, i) => {
    const isLayer = n.opType === 'Conv' || n.opType === 'Gemm';
    const name = isLayer ? `${HOSTILE[2 * layer]} ${HOSTILE[2 * layer + 1]} #${layer++}` : `${HOSTILE[i % HOSTILE.length]} node ${i}`;
    renamed.set(n.name!, name);
    n.name = name;
  });
  renameInput(lenet.graph!, FORGED);
  fs.writeFileSync(path.join(models, 'hostile-lenet.onnx'), onnx.ModelProto.encode(lenet).finish());

  // A dynamic batch dimension: the reader's warning quotes the input name.
  fs.writeFileSync(
    path.join(models, 'hostile-input.onnx'),
    encodeModel({
      nodes: [
        node('Conv', [FORGED, 'w'], ['c'], {}, HOSTILE[1]),
        node('Flatten', ['c'], ['f'], {}, 'flatten'),
        node('Gemm', ['f', 'd'], ['y'], { transB: 1 }, HOSTILE[4]),
      ],
      inputs: [valueInfo(FORGED, ['N', 3, 6, 6])],
      outputs: [valueInfo('y', undefined)],
      initializers: [
        tensor(
          'w',
          [2, 3, 3, 3],
          Array.from({ length: 54 }, (_, i) => Math.sin(i + 1)),
        ),
        tensor(
          'd',
          [3, 32],
          Array.from({ length: 96 }, (_, i) => Math.cos(i)),
        ),
      ],
    }),
  );

  // A read error whose reason quotes the input name: the output does not depend on the input.
  fs.writeFileSync(
    path.join(broken, 'disconnected.onnx'),
    encodeModel({
      nodes: [node('Relu', ['k'], ['y'], {}, 'relu')],
      inputs: [valueInfo(FORGED, [1, 3, 8, 8])],
      outputs: [valueInfo('y', [1, 2])],
      initializers: [tensor('k', [1, 2], [1, -1])],
    }),
  );
});

after(removeTempDirs);

function renameInput(graph: onnx.IGraphProto, name: string): void {
  const old = graph.input![0].name!;
  graph.input![0].name = name;
  for (const n of graph.node!) n.input = n.input!.map((input) => (input === old ? name : input));
}

describe('the audit of models with hostile names', () => {
  let stderr: string;
  const out = () => path.join(dir, 'out');
  const report = (ext: string) => fs.readFileSync(path.join(out(), `leaklint-report.${ext}`), 'utf8');

  before(async () => {
    const result = await run(['audit', 'models', 'broken', '--format', 'table,markdown,html,sarif,json', '--out', 'out/', '--fail-on', 'none'], { cwd: dir });
    assert.equal(result.code, 2, result.stderr);
    stderr = result.stderr;
  });

  it('prints every stderr line as one "leaklint:" line with the names made visible, and forges none', () => {
    assertTerminalSafe(stderr, 'stderr');
    const lines = stderr.split('\n').filter(Boolean);
    for (const line of lines) assert.match(line, /^leaklint: /);
    assert.ok(!lines.some((line) => line.startsWith('leaklint: all models clean')));
    const visible = plainText(FORGED);
    assert.equal(visible, 'x\\n\\x1b[32mleaklint: all models clean\\x1b[0m');
    assert.deepEqual(
      lines.filter((line) => line.includes(visible)),
      [
        `leaklint: models/hostile-input.onnx: warning: input "${visible}" has a dynamic batch dimension; using 1`,
        `leaklint: broken/disconnected.onnx (graph outputs): no output ("y") depends on the model input ("${visible}"): the graph is disconnected`,
      ],
    );
  });

  it('writes a terminal table without control characters or forged lines, names shown escaped', () => {
    const table = report('txt');
    assertTerminalSafe(table, 'table');
    assert.ok(!table.split('\n').some((line) => line.startsWith('leaklint:')));
    for (const layer of ['conv_1', 'conv_2', 'conv_3', 'dense_1']) {
      const name = renamed.get(layer)!;
      assert.ok(table.includes(plainText(name)), `table shows ${JSON.stringify(name)}`);
    }
    assert.ok(table.includes('conv\\u202egnp.exe co\\u200bnv\\u2066\\u2069\\ufeff #2'));
  });

  it('writes Markdown that renders the names as text: no HTML, no links, no extra rows, headings or rules', () => {
    const markdown = report('md');
    assertTerminalSafe(markdown, 'Markdown');
    assert.ok(
      /^ {2}- Fix: .*\\<script\\>alert\(1\)\\<\/script\\> \\<img src=x onerror=alert\(2\)\\> \\#0/m.test(markdown),
      `the "Fix:" lines quote the escaped name:\n${markdown
        .split('\n')
        .filter((line) => line.includes('Fix:'))
        .join('\n')}`,
    );
    const html = new MarkdownIt({ html: true, linkify: false }).render(markdown);
    assert.doesNotMatch(html, /<(script|img|iframe)\b/i);
    assert.doesNotMatch(html, /<hr\b/);
    assert.equal(html.match(/<h1>/g)?.length, 1);
    const hrefs = [...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(hrefs.length > 0 && hrefs.every((href) => href.startsWith('https://github.com/leaklint/leaklint/')), hrefs.join(' '));
    // Every table row has as many cells as its header.
    for (const table of html.match(/<table>[\s\S]*?<\/table>/g) ?? []) {
      const rows = table.match(/<tr>[\s\S]*?<\/tr>/g) ?? [];
      const cells = rows.map((row) => (row.match(/<t[hd][ >]/g) ?? []).length);
      assert.ok(
        cells.every((count) => count === cells[0]),
        `cells per row ${cells.join(',')}`,
      );
    }
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; #0'));
  });

  it('writes HTML with the names escaped', () => {
    const html = report('html');
    assertTerminalSafe(html, 'HTML');
    assert.doesNotMatch(html, /<(script|img|iframe)\b/i);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; #0'));
  });

  it('writes SARIF that validates, with plain-text messages', () => {
    const text = report('sarif');
    assertTerminalSafe(text, 'SARIF');
    const log = JSON.parse(text);
    sarifValidator()(log);
    const messages = [
      ...log.runs[0].results.map((r: { message: { text: string } }) => r.message.text),
      ...log.runs[0].invocations[0].toolExecutionNotifications.map((n: { message: { text: string } }) => n.message.text),
    ];
    assert.ok(messages.some((m) => m.includes(plainText(FORGED))));
    for (const message of messages) assertTerminalSafe(message, 'SARIF message');
  });

  it('writes JSON that keeps the names exactly, with every control character escaped', () => {
    const text = report('json');
    assertTerminalSafe(text, 'JSON');
    const json = JSON.parse(text);
    const lenet = json.reports.find((r: { file: string }) => r.file.endsWith('hostile-lenet.onnx'));
    assert.deepEqual(
      lenet.layers.map((l: { name: string }) => l.name),
      ['conv_1', 'conv_2', 'conv_3', 'dense_1'].map((name) => renamed.get(name)),
    );
  });

  it('lists the layers of a hostile model with the input name escaped', async () => {
    const layers = await run(['layers', 'models/hostile-input.onnx'], { cwd: dir });
    assert.equal(layers.code, 0, layers.stderr);
    assertTerminalSafe(layers.stdout + layers.stderr, 'layers');
    assert.match(layers.stdout, /^inputs: x\\n\\x1b\[32mleaklint: all models clean\\x1b\[0m 1x3x6x6$/m);
    assert.equal(layers.stderr.split('\n').filter(Boolean).length, 1);
  });
});

describe('escaping helpers', () => {
  it('plainText: one visible line, every control or invisible character as an escape', () => {
    assert.equal(plainText('a\nb\r\tc\x1b[0m\x7f\u0085\u009b'), 'a\\nb\\r\\tc\\x1b[0m\\x7f\\x85\\x9b');
    assert.equal(plainText('\u202eabc\u2066\u200b\u200d\ufeff\u2028'), '\\u202eabc\\u2066\\u200b\\u200d\\ufeff\\u2028');
    assert.equal(plainText('tag \u{e0041} and lone \ud800'), 'tag \\udb40\\udc41 and lone \\ud800');
    assert.equal(plainText('plain Ünïcödé, emoji 🙂, CJK 模型'), 'plain Ünïcödé, emoji 🙂, CJK 模型');
  });

  it('escapeMarkdown and markdownCode: markup becomes text', () => {
    const md = new MarkdownIt({ html: true });
    for (const name of [...HOSTILE, FORGED]) {
      const inline = md.renderInline(escapeMarkdown(name));
      assert.doesNotMatch(inline, /<(?!\/?(br)\b)[a-z]/i, `${JSON.stringify(name)} -> ${inline}`);
      const code = md.renderInline(markdownCode(name));
      assert.match(code, /^<code>[^<]*<\/code>$/, `${JSON.stringify(name)} -> ${code}`);
      const table = md.render(renderMarkdownTable(['a', 'b'], [[markdownCode(name), escapeMarkdown(name)]]));
      assert.equal(table.match(/<tr>/g)?.length, 2, `${JSON.stringify(name)} -> ${table}`);
      assert.equal(table.match(/<td>/g)?.length, 2, `${JSON.stringify(name)} -> ${table}`);
    }
  });

  it('escapeHtml and jsonText: markup and control characters never reach the page or the terminal raw', () => {
    assert.equal(escapeHtml('<img src=x onerror="alert(1)">\u202e'), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;\\u202e');
    const value = { name: `${FORGED}\u202e\u0085\u2028` };
    const text = jsonText(value);
    assertTerminalSafe(text, 'jsonText');
    assert.deepEqual(JSON.parse(text), value);
  });
});
