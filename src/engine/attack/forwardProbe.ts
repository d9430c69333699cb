// The ONNX model the runtime cross-check runs: the model itself with every node output added as a graph output, so
// that onnxruntime-node returns each intermediate tensor (asking for a tensor also stops ORT from fusing it away).
// The engine builds it; the background worker runs it.
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { ModelReadError } from '../errors';
import { resolveInsideFolder } from '../files/containment';
import type { FileAccess } from '../files/fileAccess';
import { resolveReadOptions } from '../options';
import { readModelBytes } from '../readers/modelFile';
import { decodeModel } from '../readers/onnx/decode';
import { toNumber } from '../readers/onnx/protobuf';

export interface ForwardProbe {
  file: string;
  /** The model with every node output exposed. */
  model: Uint8Array;
  /** External data files by the location the model names them with (ORT resolves them against cwd for a buffer). */
  externalData: { path: string; data: Uint8Array }[];
  inputName: string;
  /** The input's declared dims: numbers, or the dim_param name of a dynamic dim. */
  inputDims: (number | string)[];
  /** Every node output in the order the graph computes them. */
  computed: string[];
}

/** Builds the probe of an ONNX model file (or of its bytes: `file` then only labels errors, and no external data). */
export async function buildForwardProbe(files: FileAccess, file: string, bytes?: Uint8Array): Promise<ForwardProbe> {
  const abs = path.resolve(file);
  const { model, graph } = decodeModel(bytes ?? (await readModelBytes(files, abs, resolveReadOptions())), abs);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  // Before IR 4 initializers were listed as inputs too; the real inputs are the others.
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) {
    const names = inputs.map((i) => i.name).join(', ');
    throw new ModelReadError('invalid-model', abs, 'graph.input', `the forward pass feeds one image input; the model has ${inputs.length} inputs (${names})`);
  }
  const inputName = inputs[0].name ?? '';
  const inputDims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue)));
  const computed = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((name) => name !== '');
  const declared = new Set((graph.output ?? []).map((o) => o.name));
  // No type: ORT infers it. Non-float tensors (shapes, indices) come back too and are dropped after the run.
  for (const name of computed) if (!declared.has(name)) graph.output!.push(onnx.ValueInfoProto.create({ name }));
  return {
    file: abs,
    model: onnx.ModelProto.encode(model).finish(),
    externalData: bytes ? [] : await externalDataOf(files, graph, abs),
    inputName,
    inputDims,
    computed,
  };
}

/** The external data files of the initializers, read inside the model's folder only. */
async function externalDataOf(files: FileAccess, graph: onnx.IGraphProto, file: string): Promise<ForwardProbe['externalData']> {
  const locations = new Map<string, string>();
  for (const t of graph.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (location && !locations.has(location)) locations.set(location, `initializer ${t.name}`);
  }
  const folder = path.dirname(file);
  const out: ForwardProbe['externalData'] = [];
  for (const [location, where] of locations) {
    const real = await resolveInsideFolder(files, folder, location, file, where);
    out.push({ path: location, data: await readModelBytes(files, real, resolveReadOptions()) });
  }
  return out;
}
