// The contracts between the parts: package.json declares exactly the commands and views the extension registers
// (src/shared/commands.ts), every configuration key is a VS Code setting and a schema property, every option of
// `leaklint audit` and `leaklint attack` has its place in the extension (src/shared/cliOptions.ts, shown in
// docs/extension.md), and the CLI and the extension's path through the background worker give byte-identical JSON
// reports for the same file and settings.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Commands, EXTENSION_SETTING_KEYS, SETTING_KEYS, Views, WALKTHROUGH_ID } from '../../src/shared/commands';
import { CLI_OPTION_REACH, cliOptionReachTable, MAPPED_CLI_COMMANDS } from '../../src/shared/cliOptions';
import { ATTACK_DEFAULTS, defaultConfig, formatOptionsOf, formatReport, parseConfig, reportInputOf, TOOL } from '../../src/engine';
import { withIdentifiability } from '../../src/runtime/identifiability';
import { RuntimeClient } from '../../src/runtime/runtimeClient';
import { buildProgram, runCli } from '../../src/cli/main';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas/leaklint.config.schema.json'), 'utf8'));

describe('extension contributions', () => {
  it('declares exactly the commands of the command table, and the custom editor of the view table', () => {
    const declared = (pkg.contributes.commands as { command: string }[]).map((c) => c.command).sort();
    assert.deepEqual(declared, Object.values(Commands).sort());
    assert.deepEqual(
      (pkg.contributes.customEditors as { viewType: string }[]).map((e) => e.viewType),
      [Views.layerView],
    );
    // The Layer View is the default editor of .onnx files.
    assert.equal(pkg.contributes.customEditors[0].priority, 'default');
    assert.deepEqual(
      (pkg.contributes.viewsContainers.activitybar as { id: string }[]).map((c) => c.id),
      [Views.container],
    );
    assert.deepEqual(
      (pkg.contributes.views[Views.container] as { id: string }[]).map((v) => v.id),
      [Views.models],
    );
    assert.deepEqual(
      (pkg.contributes.walkthroughs as { id: string }[]).map((w) => w.id),
      [WALKTHROUGH_ID],
    );
    // Webview panels the extension restores after a reload activate it.
    for (const panel of [Views.reconstructions, Views.layerPanel]) assert.ok(pkg.activationEvents.includes(`onWebviewPanel:${panel}`), panel);
  });

  it('names only its own commands in menus, and only files that exist', () => {
    const ours = new Set<string>(Object.values(Commands));
    for (const [menu, entries] of Object.entries(pkg.contributes.menus as Record<string, { command: string }[]>)) {
      for (const entry of entries) assert.ok(ours.has(entry.command), `${menu}: ${entry.command}`);
    }
    const files = [
      pkg.icon,
      ...pkg.contributes.viewsContainers.activitybar.map((c: { icon: string }) => c.icon),
      ...pkg.contributes.walkthroughs.flatMap((w: { steps: { media: { markdown?: string } }[] }) => w.steps.map((s) => s.media.markdown)),
    ];
    for (const file of files) assert.ok(fs.existsSync(path.join(ROOT, file)), file);
  });

  it('offers every configuration key as a leaklint.* setting and in the config schema, and nothing else', () => {
    const settings = Object.keys(pkg.contributes.configuration.properties).map((k) => k.replace(/^leaklint\./, ''));
    const attackKeys = Object.keys(schema.properties.attack.properties);
    // The extension's own settings (EXTENSION_SETTING_KEYS) are not leaklint.config.json keys: not in the schema.
    const expected = [...SETTING_KEYS.filter((k) => k !== 'attack'), ...attackKeys.map((k) => `attack.${k}`), ...EXTENSION_SETTING_KEYS].sort();
    assert.deepEqual(settings.sort(), expected);
    for (const key of EXTENSION_SETTING_KEYS) assert.ok(!(key in schema.properties), `${key} is an extension setting, not a config key`);
    assert.deepEqual(
      Object.keys(schema.properties)
        .filter((k) => k !== '$schema')
        .sort(),
      [...SETTING_KEYS].sort(),
    );
    // The defaults the extension shows are the engine's.
    for (const [key, value] of Object.entries(ATTACK_DEFAULTS)) {
      assert.deepEqual(pkg.contributes.configuration.properties[`leaklint.attack.${key}`].default, value, key);
    }
  });
});

describe('one path from a model file to its report', () => {
  const WORKER = path.join(ROOT, 'dist/worker.js');
  const runtime = new RuntimeClient(WORKER);
  after(() => runtime.dispose());

  for (const model of ['cnn2_c6/model.onnx', 'lenet-sigmoid/tfjs/model.json', 'cnn6d/model.onnx']) {
    it(`leaklint audit and the extension's worker path give byte-identical JSON for ${model}`, async () => {
      const file = path.join(ROOT, 'test/fixtures/generated', model);
      const env = { SOURCE_DATE_EPOCH: '1767225600' };
      // The CLI, in its own process's way: flags on top of the (default) config file.
      let cliJson = '';
      const saved = process.env.SOURCE_DATE_EPOCH;
      process.env.SOURCE_DATE_EPOCH = env.SOURCE_DATE_EPOCH;
      try {
        const code = await runCli(['audit', file, '--format', 'json', '--fail-on', 'none', '--no-fixes'], {
          cwd: ROOT,
          stdout: (text) => (cliJson += text),
          stderr: () => undefined,
          stderrIsTTY: false,
        });
        assert.equal(code, 0);
      } finally {
        if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
        else process.env.SOURCE_DATE_EPOCH = saved;
      }
      // The extension: the same keys as VS Code settings, parsed by the engine, audited in the background worker.
      const config = parseConfig({ failOn: 'none', fixes: false }, 'settings', ROOT);
      const audited = await runtime.audit({ file, config, trusted: true });
      // The extension adds the Jacobian-rank evidence through the same worker job as the CLI (ModelAnalyses).
      const { outcome } = await withIdentifiability(runtime, audited, config, { bundledSamples: path.join(ROOT, 'media/samples'), trusted: true });
      const extensionJson = formatReport('json', reportInputOf([outcome], config, ROOT), formatOptionsOf(env, new Date()));
      assert.equal(extensionJson, cliJson);
      // Both carry the gradient-matching evidence (the rank of the gradients' Jacobian).
      const evidence = JSON.parse(cliJson).reports[0].model.verdict.evidence as { kind: string; basis?: string }[];
      assert.ok(evidence.some((e) => e.kind === 'gradient-matching' && e.basis === 'jacobian-rank'));
      assert.equal(JSON.parse(cliJson).generatedAt, '2026-01-01T00:00:00.000Z');
      assert.equal(TOOL.version, pkg.version);
    });
  }

  it('the extension defaults equal the CLI defaults', () => {
    assert.deepEqual(parseConfig({}, 'settings', ROOT), defaultConfig(ROOT));
  });
});

describe('every command-line option is reachable from the extension', () => {
  const program = buildProgram({ cwd: ROOT, stdout: () => undefined, stderr: () => undefined, stderrIsTTY: false }, () => undefined);
  /** The long flags of a command as commander defines them (hidden ones too: they are accepted). */
  const optionsOf = (name: string) => {
    const command = program.commands.find((c) => c.name() === name);
    assert.ok(command, `no command ${name}`);
    return command.options.map((o) => o.long ?? o.flags);
  };

  for (const command of MAPPED_CLI_COMMANDS) {
    it(`maps every option of leaklint ${command} to a setting, a command or what the editor does instead, and nothing else`, () => {
      const defined = optionsOf(command);
      assert.ok(defined.includes('--input-shape'), `${command}: ${defined.join(' ')}`); // commander's definitions were read
      const mapped = CLI_OPTION_REACH.filter((r) => r.command === command).map((r) => r.option);
      assert.deepEqual(
        defined.filter((o) => !mapped.includes(o)),
        [],
        `options of leaklint ${command} without an entry in CLI_OPTION_REACH (src/shared/cliOptions.ts)`,
      );
      assert.deepEqual(
        mapped.filter((o) => !defined.includes(o)),
        [],
        `entries of CLI_OPTION_REACH that leaklint ${command} does not have`,
      );
      assert.equal(new Set(mapped).size, mapped.length, 'one entry per option');
      for (const entry of CLI_OPTION_REACH.filter((r) => r.command === command)) assert.ok(entry.extension.trim(), `${command} ${entry.option}`);
    });
  }

  it('names only settings and commands the extension contributes', () => {
    const settings = new Set(Object.keys(pkg.contributes.configuration.properties));
    const titles = new Set((pkg.contributes.commands as { title: string }[]).map((c) => c.title));
    for (const { command, option, extension } of CLI_OPTION_REACH) {
      for (const [, setting] of extension.matchAll(/`(leaklint\.[A-Za-z.]+)`/g)) assert.ok(settings.has(setting), `${command} ${option}: ${setting}`);
      for (const [, title] of extension.matchAll(/\*([A-Z][^*]+)\*/g)) {
        const known = titles.has(title) || [...titles].some((t) => t.startsWith(`${title} (`)) || OTHER_UI_NAMES.includes(title);
        assert.ok(known, `${command} ${option}: "${title}" is not a LeakLint command title`);
      }
    }
  });

  it('docs/extension.md shows the table as it is', () => {
    const docs = fs.readFileSync(path.join(ROOT, 'docs/extension.md'), 'utf8');
    assert.ok(docs.includes(`${cliOptionReachTable()}\n`), `docs/extension.md must hold this table:\n${cliOptionReachTable()}`);
  });
});

/** Names in the table that are VS Code's or a view's, not LeakLint commands. */
const OTHER_UI_NAMES = ['LeakLint', 'Developer: Set Log Level'];
