// The attack's methods on the fixtures the closed form cannot reach (or falls short on), at the documented budget:
// per model, image and method, the method that made the reconstruction, PSNR/SSIM, gradient-matching steps and runs,
// and wall-clock time. gradient matching runs the gradient graph on onnxruntime-node (one thread), as the worker does.
// Run: npx tsx bench/gradient-matching-attack.ts [--models vgg-style,conv-bn-maxpool] [--methods auto,hybrid]
//      [--images 4] [--iterations 2000] [--restarts 2]
import * as path from 'node:path';
import { readModel } from '../src/engine/readers';
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { runAttack } from '../src/engine/attack/attack';
import { ATTACK_DEFAULTS } from '../src/engine/config';
import { ATTACK_METHODS, type AttackMethod } from '../src/engine/attack/types';
import { createGradientSession } from '../src/worker/gradientSession';
import { bundledSamplesFolder } from '../src/node/bundle';

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_MODELS = ['vgg-style', 'conv-bn-maxpool', 'resnet-small', 'cnn6d'];

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  process.env.ORT_DISABLE_TELEMETRY = '1';
  const models = argument('models')?.split(',') ?? DEFAULT_MODELS;
  const methods = (argument('methods')?.split(',') ?? ['auto']) as AttackMethod[];
  for (const m of methods) if (!ATTACK_METHODS.includes(m)) throw new Error(`unknown method ${m} (${ATTACK_METHODS.join(', ')})`);
  const images = Number(argument('images') ?? ATTACK_DEFAULTS.maxImages);
  const iterations = Number(argument('iterations') ?? ATTACK_DEFAULTS.iterations);
  const restarts = Number(argument('restarts') ?? ATTACK_DEFAULTS.restarts);
  console.log(`Inverting Gradients: ${iterations} iterations × ${restarts} restarts, TV ${ATTACK_DEFAULTS.tvWeight}, images in [0, 1] (mean 0, std 1)`);
  console.log('');
  console.log('| model | method asked | image | made by | PSNR dB | SSIM | steps (runs) | seconds |');
  console.log('|---|---|---|---|---:|---:|---:|---:|');
  for (const name of models) {
    const graph = await readModel(files, path.join(ROOT, 'test/fixtures/generated', name, 'model.onnx'));
    for (const method of methods) {
      const { report } = await runAttack(graph, {
        files,
        imageFolder: bundledSamplesFolder(),
        maxImages: images,
        method,
        iterations,
        restarts,
        gradientRuntime: (g) => createGradientSession(g, { threads: 1 }),
      });
      for (const image of report.images) {
        const q = image.quality?.clipped;
        const run = image.gradientMatching;
        console.log(
          `| ${name} | ${method} | ${image.image} | ${image.method ?? 'none'} | ${q ? (Number.isFinite(q.psnr) ? q.psnr.toFixed(1) : '∞') : '–'} | ${q ? q.ssim.toFixed(3) : '–'} | ` +
            `${run ? `${run.iterations} (${run.runs})` : '–'} | ${image.seconds.total.toFixed(1)} |`,
        );
      }
    }
  }
}

void main();
