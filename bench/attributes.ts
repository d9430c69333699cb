// Time and peak memory of auditing tiny models with huge attributes (issue 12, fault 1): each case is read and
// analysed as `leaklint audit` does (fixes on), in full and with --quick, and built into the attack network, in a
// process of its own so that the peak RSS is the case's. Run: node --import tsx bench/attributes.ts
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyseModel } from '../src/engine/analysis/analyseModel';
import { AttackNetwork } from '../src/engine/attack/network/attackNetwork';
import { readModel } from '../src/engine/readers';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { model, type Attrs } from '../test/unit/huge-attribute-models';
import { encodeModel } from '../test/unit/onnx-helpers';

const TMP = path.join(__dirname, '.tmp', 'attributes');
const HUGE_WINDOW = { kernel_shape: [1e9, 1e9], pads: [1e9, 1e9, 1e9, 1e9], strides: [1e9, 1e9] };

const CASES: Record<string, [Attrs, Parameters<typeof model>[1]?]> = {
  'strides 1e4': [{ strides: [1e4, 1e4] }],
  'strides 1e9': [{ strides: [1e9, 1e9] }],
  'strides 1e9 + ReLU': [{ strides: [1e9, 1e9] }, { relu: true }],
  'dilations 1e9': [{ dilations: [1e9, 1e9], pads: [1e9, 1e9, 1e9, 1e9], strides: [1e9, 1e9] }],
  'pads 3000': [{ pads: [3000, 3000, 3000, 3000] }],
  'pads 1e4': [{ pads: [1e4, 1e4, 1e4, 1e4] }],
  'pads 1e4 + ReLU': [{ pads: [1e4, 1e4, 1e4, 1e4] }, { relu: true }],
  'AveragePool window 1e9': [{}, { pool: { op: 'AveragePool', attrs: HUGE_WINDOW } }],
  'MaxPool window 1e9': [{}, { pool: { op: 'MaxPool', attrs: HUGE_WINDOW } }],
};

function fileOf(name: string): string {
  return path.join(TMP, `${name.replace(/[^a-z0-9]+/gi, '-')}.onnx`);
}

async function runCase(name: string, mode: string): Promise<void> {
  const started = performance.now();
  let outcome = 'ok';
  try {
    const graph = await readModel(files, fileOf(name));
    if (mode === 'attack') AttackNetwork.fromGraph(graph);
    else analyseModel(graph, mode === 'quick' ? { maxFlopsPerModel: 0 } : {});
  } catch (e) {
    outcome = (e instanceof Error ? e.message : String(e)).slice(0, 60);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ seconds, outcome, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--case') return runCase(process.argv[3], process.argv[4]);
  fs.mkdirSync(TMP, { recursive: true });
  for (const [name, [conv, options]] of Object.entries(CASES)) fs.writeFileSync(fileOf(name), encodeModel(model(conv, options)));
  console.log('case                      mode     seconds  peak RSS MiB  outcome');
  for (const name of Object.keys(CASES)) {
    for (const mode of ['audit', 'quick', 'attack']) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--case', name, mode], { encoding: 'utf8' });
      const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
      console.log(`${name.padEnd(25)} ${mode.padEnd(7)} ${r.seconds.toFixed(2).padStart(8)}  ${r.peakRssMiB.toFixed(0).padStart(12)}  ${r.outcome}`);
    }
  }
}

void main();
