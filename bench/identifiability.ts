// Prints the seconds the identifiability rank (J = ∂(∇θ loss)/∂image from Jᵀu products on onnxruntime-node) takes per
// generated fixture, with the rank, the method and the products used, whole-model and per layer.
// Run: npx tsx bench/identifiability.ts [--columns N] [--no-layers] [fixture...] (no time budget here; --columns 100000
// gives the exact rank).
import * as path from 'path';
import { analyseIdentifiability, IDENTIFIABILITY_DEFAULTS } from '../src/engine';
import { AttackNetwork } from '../src/engine/attack/network/attackNetwork';
import { loadSampleImages } from '../src/engine/images/modelInput';
import { readModel } from '../src/engine/readers';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { createJacobianProductSession } from '../src/worker/jacobianSession';

const root = path.resolve(__dirname, '..');
const fixtures = path.join(root, 'test', 'fixtures', 'generated');
const DEFAULT_FIXTURES = ['cnn2_c0', 'cnn6', 'lenet-sigmoid', 'relu-net', 'bn-maxpool-residual', 'conv-bn-maxpool', 'vgg-style', 'resnet-small'];

async function main() {
  const args = process.argv.slice(2);
  const columnsAt = args.indexOf('--columns');
  // The default caps (IDENTIFIABILITY_DEFAULTS), or a plain column cap (--columns 100000: the exact rank).
  const maxColumns = columnsAt >= 0 ? Number(args[columnsAt + 1]) : undefined;
  const perLayer = !args.includes('--no-layers');
  const names = args.filter((a, i) => !a.startsWith('--') && i !== columnsAt + 1);
  console.log(
    maxColumns === undefined
      ? `default caps: ${IDENTIFIABILITY_DEFAULTS.multiplyAdds.toExponential(1)} multiply-adds, ${IDENTIFIABILITY_DEFAULTS.layerColumns} products per layer; per layer ${perLayer}`
      : `max columns ${maxColumns}, no multiply-add cap, per layer ${perLayer}`,
  );
  console.log('fixture               seconds  cpu s   rank / unknowns  method       columns  per layer');
  for (const name of names.length ? names : DEFAULT_FIXTURES) {
    const net = AttackNetwork.fromGraph(await readModel(files, path.join(fixtures, name, 'model.onnx')));
    const [sample] = await loadSampleImages(files, path.join(root, 'media', 'samples'), net.inputShape, { mean: [0], std: [1] }, { limit: 1 });
    const cpu = process.cpuUsage();
    const start = performance.now();
    const r = await analyseIdentifiability(net, sample.input, createJacobianProductSession, {
      label: 0,
      ...(maxColumns !== undefined ? { maxColumns, multiplyAdds: Infinity } : {}),
      perLayer,
      timeBudgetSeconds: Infinity,
    });
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const layers = r.layers.map((l) => `${l.name} ${l.rank}${l.method === 'lower-bound' ? '+' : ''}`).join(', ');
    console.log(
      `${name.padEnd(20)} ${seconds.toFixed(2).padStart(8)} ${((used.user + used.system) / 1e6).toFixed(2).padStart(6)}  ${`${r.rank} / ${r.unknowns}`.padStart(15)}  ${r.method.padEnd(11)} ${String(r.columns).padStart(8)}  ${layers}`,
    );
  }
}

void main();
