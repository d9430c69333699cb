// Reconstruction attack benchmark: per fixture model and sample image, the time of the forward pass, the gradients,
// each layer's solve and the total (wall clock, and the process's CPU time, which a busy shared machine inflates
// less), with peak RSS; and the matrix-free solve of a 3×224×224 first conv layer.
// Run: npx tsx bench/attack.ts            (each case in its own child process, so that peak RSS is per case)
//      npx tsx bench/attack.ts --case N   (one case, JSON on stdout)
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { readModel } from '../src/engine/readers';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { bundledSamplesFolder } from '../src/node/bundle';
import { AttackNetwork } from '../src/engine/attack/network/attackNetwork';
import { reconstruct, relativeError } from '../src/engine/attack/reconstruct';
import { loadSampleImages } from '../src/engine/images/modelInput';
import { ConvOperator } from '../src/engine/numerics/convOperators';
import { convGeometry, type ConvGeometryInit } from '../src/engine/numerics/convGeometry';
import { gaussianArray } from '../src/engine/numerics/random';
import { solveConvLayer } from '../src/engine/attack/layerSolve';

const fixtures = path.resolve(__dirname, '..', 'test', 'fixtures', 'generated');
const IMAGES = ['astronaut', 'chelsea'];
const MODELS = ['cnn6', 'cnn6d', 'lenet-sigmoid', 'relu-cnn', 'mlp', 'cnn2_c2', 'cnn3_c5'];
const STEMS: { name: string; init: ConvGeometryInit }[] = [
  { name: 'VGG stem: 64 filters 3×3/1 on 3×224×224', init: { inChannels: 3, height: 224, width: 224, outChannels: 64, kernel: 3, strides: 1, pads: 1 } },
  { name: 'ResNet stem: 64 filters 7×7/2 on 3×224×224', init: { inChannels: 3, height: 224, width: 224, outChannels: 64, kernel: 7, strides: 2, pads: 3 } },
];

type Case = { kind: 'model'; model: string; image: string } | { kind: 'stem'; index: number };
const cases: Case[] = [
  ...MODELS.flatMap((model) => IMAGES.map((image) => ({ kind: 'model' as const, model, image }))),
  ...STEMS.map((_, index) => ({ kind: 'stem' as const, index })),
];

async function runModelCase(model: string, imageName: string) {
  const graph = await readModel(files, path.join(fixtures, model, 'model.onnx'));
  const net = AttackNetwork.fromGraph(graph);
  const samples = await loadSampleImages(files, bundledSamplesFolder(), net.inputShape, { mean: [0.5], std: [1] });
  const sample = samples.find((s) => s.name.startsWith(imageName))!;
  // One warm-up run so that the figures are for JIT-compiled code, as in a long-lived worker.
  reconstruct(net, net.trainingStep(sample.input, 3).step.gradients);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const trace = net.forward(sample.input);
  const t1 = performance.now();
  const { step } = net.trainingStep(sample.input, 3);
  const t2 = performance.now();
  const rec = reconstruct(net, step.gradients, { truth: trace });
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  return {
    name: `${model} / ${imageName}`,
    forward: (t1 - t0) / 1000,
    gradients: (t2 - t1) / 1000,
    layers: rec.layers.map((l) => `${l.name} ${l.method}${l.iterations ? `(${l.iterations} it)` : ''} ${l.seconds.toFixed(2)}s`).join(', '),
    total: (t3 - t0) / 1000,
    cpu: (cpu.user + cpu.system) / 1e6,
    relativeError: rec.input ? relativeError(rec.input, sample.input) : NaN,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

async function runStemCase(index: number) {
  const stem = STEMS[index];
  const g = convGeometry(stem.init);
  const op = new ConvOperator(g);
  const [sample] = await loadSampleImages(files, bundledSamplesFolder(), [3, 224, 224], { mean: [0.5], std: [1] }, { limit: 1 });
  const x = sample.input;
  const W = gaussianArray(g.nW, 1, Math.sqrt(2 / (g.inPerGroup * g.kernel[0] * g.kernel[1])));
  const z = op.forward(W, x);
  const dz = gaussianArray(g.nZ, 2, 1e-3);
  const G = op.gradient(dz, x);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const solution = solveConvLayer(op, W, dz, G, z, { deadline: Date.now() + 300_000 });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    name: stem.name,
    forward: 0,
    gradients: 0,
    layers: `${solution.method} ${solution.iterations} iterations, ${g.nX} unknowns, ${solution.equations} equations`,
    total: seconds,
    cpu: (cpu.user + cpu.system) / 1e6,
    relativeError: relativeError(solution.x, x),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

const caseArg = process.argv.indexOf('--case');
if (caseArg >= 0) {
  const c = cases[Number(process.argv[caseArg + 1])];
  void (c.kind === 'model' ? runModelCase(c.model, c.image) : runStemCase(c.index)).then((result) => console.log(JSON.stringify(result)));
} else {
  console.log('case                                        forward  gradients   total     cpu  rel. error  peak RSS MiB  layers (output → input)');
  cases.forEach((_, i) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--case', String(i)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status !== 0) {
      console.log(`case ${i} failed: ${run.stderr.split('\n').slice(0, 5).join(' ')}`);
      return;
    }
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
    console.log(
      `${r.name.padEnd(43)} ${r.forward.toFixed(3).padStart(7)}  ${r.gradients.toFixed(3).padStart(9)}  ${r.total.toFixed(2).padStart(6)}  ${r.cpu.toFixed(2).padStart(6)}  ${r.relativeError.toExponential(1).padStart(10)}  ${r.peakRssMiB.toFixed(0).padStart(12)}  ${r.layers}`,
    );
  });
}
