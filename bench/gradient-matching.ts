// One Inverting Gradients iteration, LeakLint against PyTorch on the same CPU: the objective
// 1 − cos(parameter gradients, shared gradients) + 0.01·TV(x) and its image gradient (forward pass, softmax
// cross-entropy, every parameter gradient, the cosine, total variation and the second-order pass). LeakLint runs
// the graph src/engine/gradientGraph builds on onnxruntime-node (src/worker/gradientSession); PyTorch runs
// torch.autograd with create_graph=True (scripts/torch/bench_inverting_gradients.py, Debian's python3-torch at
// /usr/bin/python3, skipped with a note when it is missing). Both in float32 on one intra-op thread; the Adam step
// is left out of both (a few element-wise operations on the image). Figures: the fastest of three timed runs.
// Run: npx tsx bench/gradient-matching.ts [--seconds S]   (S per model and side, default 3)
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readModel } from '../src/engine/readers';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { AttackNetwork } from '../src/engine/attack/network/attackNetwork';
import { buildInvertingGradientsGraph } from '../src/engine/gradientGraph';
import { createGradientSession } from '../src/worker/gradientSession';
import { createRng } from '../src/engine/numerics/random';
import { conv, dense, flatten, maxPool, relu, resolveNetwork, type NetworkSpec } from '../scripts/fixtures/network';
import { initializeWeights } from '../scripts/fixtures/weights';
import { writeOnnxModel } from '../scripts/fixtures/onnx-writer';

const ROOT = path.resolve(__dirname, '..');
const TMP = path.join(__dirname, '.tmp');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'generated');
const PYTHON = '/usr/bin/python3';
const TV_WEIGHT = 0.01;
const LABEL = 3;

/** The small CNN of gradient-matching.md §2: conv 3×3 3→16, ReLU, conv 3×3/2 16→32, ReLU, max pool 2, dense 2048→10. */
const SMALL_CNN: NetworkSpec = {
  name: 'small-cnn',
  summary: 'Benchmark model: Conv 3×3 16-ReLU, Conv 3×3/2 32-ReLU, MaxPool 2×2, Dense 2048 → 10.',
  input: [3, 32, 32],
  layers: [conv(16, 3, { pad: 1 }), relu(), conv(32, 3, { stride: 2, pad: 1 }), relu(), maxPool(2), flatten(), dense(10)],
};

function smallCnnPath(): string {
  const file = path.join(TMP, 'small-cnn.onnx');
  fs.mkdirSync(TMP, { recursive: true });
  const network = resolveNetwork(SMALL_CNN);
  const written = writeOnnxModel(network, initializeWeights(network), {
    fileName: 'small-cnn.onnx',
    weightStorage: 'raw_data',
    denseOp: 'Gemm',
    batchDim: 'fixed',
  });
  for (const f of written.files) fs.writeFileSync(path.join(TMP, f.name), f.bytes);
  return file;
}

const MODELS: { name: string; file: () => string }[] = [
  { name: 'small CNN (2 conv, max pool, dense)', file: smallCnnPath },
  { name: 'VGG-style (4 conv, 2 max pool, dense)', file: () => path.join(FIXTURES, 'vgg-style', 'model.onnx') },
  { name: 'small ResNet (7 conv + BN, projection)', file: () => path.join(FIXTURES, 'resnet-small', 'model.onnx') },
  { name: 'conv/BN/max-pool net', file: () => path.join(FIXTURES, 'conv-bn-maxpool', 'model.onnx') },
  { name: 'CNN6 (R-GAP)', file: () => path.join(FIXTURES, 'cnn6', 'model.onnx') },
];

/** Timed runs of one model's iteration on onnxruntime-node. */
/** Wall-clock and process CPU milliseconds per iteration of one run. */
interface Run {
  wall: number;
  cpu: number;
}

async function leakLintCase(file: string): Promise<{ run: (seconds: number) => Promise<Run>; nodes: number; release: () => Promise<void> }> {
  const net = AttackNetwork.fromGraph(await readModel(files, file));
  const [c, h, w] = net.inputShape;
  const rng = createRng(0);
  const truth = new Float64Array(c * h * w).map(() => rng.uniform() - 0.5);
  const { trace, step } = net.trainingStep(truth, LABEL);
  const graph = buildInvertingGradientsGraph(net, { label: LABEL, shared: net.namedGradients(step, trace), tvWeight: TV_WEIGHT });
  const session = await createGradientSession(graph, { threads: 1 });
  const x = Float32Array.from({ length: c * h * w }, () => rng.normal());
  for (let k = 0; k < 10; k++) await session.evaluate(x);
  return {
    nodes: graph.nodeCount,
    release: () => session.release(),
    async run(seconds: number): Promise<Run> {
      let count = 0;
      let elapsed = 0;
      const start = performance.now();
      const cpu = process.cpuUsage();
      while (elapsed < seconds * 1000 || count < 5) {
        await session.evaluate(x);
        count++;
        elapsed = performance.now() - start;
      }
      const used = process.cpuUsage(cpu);
      return { wall: elapsed / count, cpu: (used.user + used.system) / 1000 / count };
    },
  };
}

/** scripts/torch/bench_inverting_gradients.py --serve: one timed run per request line. */
class TorchServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';
  version?: string;
  blas?: string;

  constructor() {
    this.child = spawn(PYTHON, [path.join(ROOT, 'scripts', 'torch', 'bench_inverting_gradients.py'), '--serve'], {
      cwd: ROOT,
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.child.on('exit', () => {
      for (const resolve of this.waiting.splice(0)) resolve('');
    });
  }

  /** One timed run, or undefined when PyTorch could not run (`failure` says why). */
  async run(file: string, seconds: number): Promise<Run | undefined> {
    const line = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(`${file} ${seconds}\n`);
    });
    if (!line) return undefined;
    const answer = JSON.parse(line) as { ms_per_iteration: number; cpu_ms_per_iteration: number; torch: string; blas: string };
    this.version = answer.torch;
    this.blas = answer.blas;
    return { wall: answer.ms_per_iteration, cpu: answer.cpu_ms_per_iteration };
  }

  get failure(): string {
    const missing = /No module named '(\w+)'/.exec(this.stderr)?.[1];
    if (missing) return `python module ${missing} missing (apt-get install python3-torch python3-onnx)`;
    return this.stderr.trim().split('\n').pop() ?? 'it exited';
  }

  close(): void {
    this.child.stdin.end();
  }
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--seconds');
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 3;
  process.env.ORT_DISABLE_TELEMETRY = '1';
  const ort = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
  const torch = fs.existsSync(PYTHON) ? new TorchServer() : undefined;
  const rows: { name: string; ours: Run[]; theirs: Run[] }[] = [];
  // Three rounds per model, alternating the two sides, so that both see the same load on a shared machine.
  for (const model of MODELS) {
    const file = model.file();
    const ours = await leakLintCase(file);
    const row = { name: model.name, ours: [] as Run[], theirs: [] as Run[] };
    for (let round = 0; round < 3; round++) {
      row.ours.push(await ours.run(seconds / 3));
      const theirs = await torch?.run(file, seconds / 3);
      if (theirs !== undefined) row.theirs.push(theirs);
    }
    await ours.release();
    rows.push(row);
  }
  torch?.close();

  const shortBlas = torch?.blas?.split(', ').find((p) => /libopenblas|libmkl|libblis/.test(p)) ?? torch?.blas?.split(', ')[0];
  const torchLine = torch?.version ? `${torch.version} (BLAS ${shortBlas})` : `not run: ${torch ? torch.failure : `${PYTHON} not found`}`;
  console.log(`Inverting Gradients, one iteration (objective + image gradient), float32, 1 thread, TV weight ${TV_WEIGHT}`);
  console.log(`LeakLint: onnxruntime-node ${ort}; PyTorch: ${torchLine}`);
  if (torch?.blas && !/openblas|mkl|blis/i.test(torch.blas))
    console.log('note: PyTorch runs on the reference BLAS here; install libopenblas0 for a fair comparison');
  console.log('');
  const fastest = (runs: Run[], key: keyof Run) => Math.min(...runs.map((r) => r[key]));
  const cell = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(2));
  const ratio = (theirs: number | undefined, ours: number) => (theirs === undefined ? '–' : `${(theirs / ours).toFixed(2)}×`);
  console.log('| model | LeakLint ms/iteration | PyTorch ms/iteration | PyTorch / LeakLint | LeakLint CPU ms | PyTorch CPU ms | CPU ratio |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const [wall, cpu] = [fastest(row.ours, 'wall'), fastest(row.ours, 'cpu')];
    const [theirWall, theirCpu] = row.theirs.length ? [fastest(row.theirs, 'wall'), fastest(row.theirs, 'cpu')] : [undefined, undefined];
    console.log(
      `| ${row.name} | ${cell(wall)} | ${cell(theirWall)} | ${ratio(theirWall, wall)} | ${cell(cpu)} | ${cell(theirCpu)} | ${ratio(theirCpu, cpu)} |`,
    );
  }
  console.log('');
  console.log('Wall clock: the fastest of three alternating runs per side; CPU: process CPU time per iteration (steadier on a shared machine).');
  console.log('All runs, wall ms, LeakLint | PyTorch:');
  for (const row of rows)
    console.log(`  ${row.name}: ${row.ours.map((r) => r.wall.toFixed(2)).join(' ')} | ${row.theirs.map((r) => r.wall.toFixed(2)).join(' ') || '–'}`);
}

void main();
