// Folds "Conv/MatMul then Add of a per-channel constant" into the layer's bias, as frameworks export biases
// separately (CNTK, TF converters): the analysis then sees one affine layer, as the architecture intends.
import type { LayerNode, Shape, WeightTensor } from '../../ir';

/** The operand as a [channels] bias when it is constant along every axis but the channel axis (1) of `output`. */
function channelBias(operand: WeightTensor, output: Shape): WeightTensor | undefined {
  if (output.length < 2 || operand.shape.length > output.length) return undefined;
  const aligned = [...new Array<number>(output.length - operand.shape.length).fill(1), ...operand.shape];
  const perChannel = aligned.every((dim, axis) => (axis === 1 ? dim === output[1] : dim === 1));
  return perChannel ? { ...operand, shape: [output[1]] } : undefined;
}

/** The bias plus the Add's operand, computed on the first load and kept (biases are one value per channel). */
function sum(a: WeightTensor, b: WeightTensor): WeightTensor {
  let total: Float64Array | undefined;
  return {
    name: a.name,
    shape: a.shape,
    storage: a.storage,
    load: () => {
      if (!total) {
        const first = a.load();
        const extra = b.load();
        const out = new Float64Array(first.length);
        for (let i = 0; i < out.length; i++) out[i] = first[i] + extra[i];
        total = out;
      }
      return total.slice();
    },
  };
}

/** Returns `nodes` without the bias Adds, their conv/dense producers now carrying the bias and the Add's output. */
export function foldBiasAdds(nodes: LayerNode[], graphOutputs: ReadonlySet<string>): LayerNode[] {
  const consumers = new Map<string, LayerNode[]>();
  for (const node of nodes) {
    for (const input of node.inputs) {
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
  }
  const absorbed = new Set<LayerNode>();
  for (const node of nodes) {
    if ((node.op !== 'conv' && node.op !== 'dense') || node.status !== 'ok' || node.outputs.length !== 1) continue;
    const users = consumers.get(node.outputs[0]) ?? [];
    if (users.length !== 1 || graphOutputs.has(node.outputs[0])) continue;
    const add = users[0];
    const operand = add.weights.operand;
    if (add.op !== 'add' || add.status !== 'ok' || add.inputs.length !== 1 || !operand) continue;
    const bias = channelBias(operand, node.outputShapes[0]);
    if (!bias) continue;
    node.weights.bias = node.weights.bias ? sum(node.weights.bias, bias) : bias;
    node.outputs = add.outputs;
    node.outputShapes = add.outputShapes;
    node.sourceOp = `${node.sourceOp}+${add.sourceOp}`;
    absorbed.add(add);
  }
  return nodes.filter((node) => !absorbed.has(node));
}
