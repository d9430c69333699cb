// One benchmark case per process, so that peak memory (maxRSS) belongs to that case alone.
// Usage: node --import tsx bench/cases.ts <case> [file]; prints one JSON line.
import * as fs from 'fs';
import * as path from 'path';
import { readModel } from '../src/engine/readers';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { analyseModel } from '../src/engine/analysis/analyseModel';
import { resolveNetwork, conv, dense, flatten, relu, maxPool, type NetworkSpec } from '../scripts/fixtures/network';
import { initializeWeights } from '../scripts/fixtures/weights';
import { writeOnnxModel } from '../scripts/fixtures/onnx-writer';

const TMP = path.join(__dirname, '.tmp');

/** A VGG-style classifier whose first dense layer alone holds 25088×1024 weights: a model file over 100 MB. */
const LARGE_NETWORK: NetworkSpec = {
  name: 'large-vgg-like',
  summary: 'Benchmark model: 3×224×224, VGG-style convs, 25088→1024→10 dense head (about 103 MB of float32 weights).',
  input: [3, 224, 224],
  layers: [
    conv(32, 3, { pad: 1 }),
    relu(),
    maxPool(2),
    conv(64, 3, { pad: 1 }),
    relu(),
    maxPool(2),
    conv(128, 3, { pad: 1 }),
    relu(),
    maxPool(2),
    conv(256, 3, { pad: 1 }),
    relu(),
    maxPool(2),
    conv(512, 3, { pad: 1 }),
    relu(),
    maxPool(2),
    flatten(),
    dense(1024),
    relu(),
    dense(10),
  ],
};

export function largeModelPath(): string {
  const file = path.join(TMP, 'large-vgg-like.onnx');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(TMP, { recursive: true });
  const network = resolveNetwork(LARGE_NETWORK);
  const written = writeOnnxModel(network, initializeWeights(network), {
    fileName: 'large-vgg-like.onnx',
    weightStorage: 'raw_data',
    denseOp: 'Gemm',
    batchDim: 'fixed',
  });
  for (const f of written.files) fs.writeFileSync(path.join(TMP, f.name), f.bytes);
  return file;
}

async function timed<T>(work: () => T | Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const result = await work();
  return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function main() {
  const [kind, file] = process.argv.slice(2);
  const target = file === 'large' ? largeModelPath() : file;
  const before = process.memoryUsage().rss;
  const line: Record<string, unknown> = { case: kind, file: path.relative(process.cwd(), target), bytes: fs.statSync(target).size };
  if (kind === 'read') {
    const { result, seconds } = await timed(() => readModel(files, target));
    Object.assign(line, { seconds, nodes: result.nodes.length });
  } else if (kind === 'analyse') {
    const graph = await readModel(files, target);
    const { result, seconds } = await timed(() => analyseModel(graph, { fixes: false }));
    Object.assign(line, { seconds, layers: result.layers.length, coverage: result.model.coverage });
  } else throw new Error(`unknown case ${kind}`);
  Object.assign(line, { rssBeforeMiB: before / 2 ** 20, peakRssMiB: process.resourceUsage().maxRSS / 1024 });
  console.log(JSON.stringify(line));
}

if (require.main === module) void main();
