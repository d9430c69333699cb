import * as fs from 'fs';
import { readModel } from './src/engine/readers/index';
import { AttackNetwork } from './src/engine/attack/network';
for (const d of fs.readdirSync('/work/shared/models')) {
  const dir = '/work/shared/models/' + d;
  if (!fs.statSync(dir).isDirectory()) continue;
  const f = fs.readdirSync(dir).find((n) => n.endsWith('.onnx') || n === 'model.json');
  if (!f) continue;
  const t0 = performance.now();
  try {
    const g = readModel(dir + '/' + f);
    const net = AttackNetwork.fromGraph(g);
    const [c, h, w] = net.inputShape;
    const x = new Float64Array(c * h * w).map((_, i) => Math.sin(i));
    const tr = net.trainingStep(x, 0);
    console.log(d, 'OK', net.order.length, 'units', net.classes, 'classes', 'loss', tr.step.loss.toFixed(3), ((performance.now() - t0) / 1000).toFixed(1) + 's');
  } catch (e) { console.log(d, 'ERR', (e as Error).name, (e as Error).message.slice(0, 200), ((performance.now() - t0) / 1000).toFixed(1) + 's'); }
}
