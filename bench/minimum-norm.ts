// What the exact minimum-norm solution is worth on a rank-deficient layer (docs/algorithm.md §5.4): the first layer of
// a thin stride-2 net, 3×32×32 → Conv(4, k3, s2, p1) (rank 1116 of 3072), solved from its exact gradient and
// pre-activation for every bundled image. Prints the PSNR and norm of the layer solver's answer (U⁺V) and of the
// minimiser of the Jacobi-column-scaled norm that LSQR on a column-scaled operator returns (the previous solver).
// Run: npx tsx bench/minimum-norm.ts
import { nodeFileAccess as files } from '../src/node/nodeFileAccess';
import { bundledSamplesFolder } from '../src/node/bundle';
import { solveConvLayer } from '../src/engine/attack/layerSolve';
import { loadSampleImages } from '../src/engine/images/modelInput';
import { psnrFromMse } from '../src/engine/images/quality';
import { convGeometry } from '../src/engine/numerics/convGeometry';
import { ConvOperator } from '../src/engine/numerics/convOperators';
import { norm2 } from '../src/engine/numerics/dense';
import type { LinearOperator } from '../src/engine/numerics/linearOperator';
import { lsqr } from '../src/engine/numerics/lsqr';
import { gaussianArray } from '../src/engine/numerics/random';

const g = convGeometry({ inChannels: 3, height: 32, width: 32, outChannels: 4, kernel: 3, strides: 2, pads: 1 });
const op = new ConvOperator(g);
const bound = 1 / Math.sqrt(27); // PyTorch's default scale, U(−1/√fan_in, 1/√fan_in), as a clipped Gaussian
const W = gaussianArray(g.nW, 5).map((v) => Math.max(-bound, Math.min(bound, v * bound)));
const dz = gaussianArray(g.nZ, 9, 1e-3);

/** LSQR on [K; W_op] with unit-norm rows and Jacobi-scaled columns, mapped back: the least scaled norm. */
function columnScaledSolution(G: Float64Array, z: Float64Array): Float64Array {
  const ones = new Float64Array(g.nX).fill(1);
  const dz2 = dz.map((v) => v * v);
  const W2 = W.map((v) => v * v);
  const rowK = op.gradient(dz2, ones).map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0));
  const rowW = op.forward(W2, ones).map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0));
  const kColumns = op.gradientTranspose(
    dz2,
    rowK.map((v) => v * v),
  );
  const wColumns = op.forwardTranspose(
    W2,
    rowW.map((v) => v * v),
  );
  const columnScale = kColumns.map((v, j) => (v + wColumns[j] > 0 ? 1 / Math.sqrt(v + wColumns[j]) : 1));
  const A: LinearOperator = {
    rows: g.nW + g.nZ,
    cols: g.nX,
    apply(y, out) {
      const xs = y.map((v, j) => v * columnScale[j]);
      const gk = op.gradient(dz, xs);
      const zw = op.forward(W, xs);
      for (let i = 0; i < g.nW; i++) out[i] = rowK[i] * gk[i];
      for (let i = 0; i < g.nZ; i++) out[g.nW + i] = rowW[i] * zw[i];
    },
    applyTranspose(r, out) {
      const a = op.gradientTranspose(
        dz,
        r.subarray(0, g.nW).map((v, i) => v * rowK[i]),
      );
      const b = op.forwardTranspose(
        W,
        r.subarray(g.nW).map((v, i) => v * rowW[i]),
      );
      for (let j = 0; j < g.nX; j++) out[j] = (a[j] + b[j]) * columnScale[j];
    },
  };
  const rhs = new Float64Array(g.nW + g.nZ);
  for (let i = 0; i < g.nW; i++) rhs[i] = rowK[i] * G[i];
  for (let i = 0; i < g.nZ; i++) rhs[g.nW + i] = rowW[i] * z[i];
  return lsqr(A, rhs, { atol: 1e-15, btol: 1e-15, maxIter: 20_000 }).x.map((v, j) => v * columnScale[j]);
}

/** PSNR (peak 1) of a reconstruction of a centred image (x − 0.5), clipped to [0, 1] as the reports show it. */
function psnr(reconstruction: Float64Array, truth: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < truth.length; i++) sum += (Math.min(1, Math.max(0, reconstruction[i] + 0.5)) - (truth[i] + 0.5)) ** 2;
  return psnrFromMse(sum / truth.length);
}

async function main() {
  const samples = await loadSampleImages(files, bundledSamplesFolder(), [3, 32, 32], { mean: [0.5], std: [1] });
  console.log('image                   minimum norm (solver)        column-scaled minimiser     gain');
  for (const sample of samples) {
    const x = sample.input;
    const G = op.gradient(dz, x);
    const z = op.forward(W, x);
    const solution = solveConvLayer(op, W, dz, G, z);
    const scaled = columnScaledSolution(G, z);
    const [a, b] = [psnr(solution.x, x), psnr(scaled, x)];
    console.log(
      `${sample.name.padEnd(22)}  ${a.toFixed(2).padStart(6)} dB, norm ${norm2(solution.x).toFixed(2).padStart(6)}     ${b.toFixed(2).padStart(6)} dB, norm ${norm2(scaled).toFixed(2).padStart(6)}    ${(a - b).toFixed(2)} dB   (${solution.method})`,
    );
  }
}

void main();
