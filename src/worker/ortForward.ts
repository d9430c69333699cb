// One forward pass of an ONNX model through onnxruntime-node with every intermediate tensor exposed: each node
// output is added as a graph output (asking for a tensor also stops ORT from fusing it away; tooling.md §1).
// onnxruntime-node is native code: it is required at first use only, so the worker starts fast and the static
// analysis path (and an untrusted workspace) never loads it.
import * as fs from 'fs';
import * as path from 'path';
import type * as OrtModule from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { decodeModel } from '../engine/readers/onnx/decode';
import { toNumber } from '../engine/readers/onnx/protobuf';
import { resolveInsideFolder } from '../engine/safePath';

export interface Tensor {
  dims: number[];
  data: Float32Array;
}

/** Tensor name → value, in the order the graph computes them. */
export type TensorMap = Map<string, Tensor>;

/** onnxruntime-node refused the model or failed to run it; the message has ORT's own words and the model file. */
export class RuntimeForwardError extends Error {
  readonly code = 'runtime';
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeForwardError';
  }
}

/** A model file, or its bytes (`file` then only labels errors; external data is not available from bytes). */
export type ForwardModel = string | { bytes: Uint8Array; file: string };

export interface ForwardSession {
  readonly file: string;
  readonly inputName: string;
  /** The model input's declared dims: numbers, or the dim_param name of a dynamic dim. */
  readonly inputDims: (number | string)[];
  /** `shape` may leave out a leading batch dim (it is then 1). */
  run(input: Float32Array, shape: number[]): Promise<TensorMap>;
  release(): Promise<void>;
}

type Ort = typeof OrtModule;
let ortModule: Ort | undefined;

function loadOrt(): Ort {
  // The telemetry code in libonnxruntime leaves $TMPDIR/mat-debug-<pid>.log behind unless this is set first.
  process.env.ORT_DISABLE_TELEMETRY = '1';
  // Loaded on first use, not at start-up: a worker that only analyses never loads native code.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ortModule ??= require('onnxruntime-node') as Ort;
  return ortModule;
}

export async function ortForward(model: ForwardModel, input: Float32Array, shape: number[]): Promise<TensorMap> {
  const session = await createForwardSession(model);
  try {
    return await session.run(input, shape);
  } finally {
    await session.release();
  }
}

export async function createForwardSession(model: ForwardModel): Promise<ForwardSession> {
  const file = typeof model === 'string' ? path.resolve(model) : model.file;
  const bytes = typeof model === 'string' ? readBytes(file) : model.bytes;
  const { model: proto, graph } = decodeModel(bytes, file);

  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  // Before IR 4 initializers were listed as inputs too; the real inputs are the others.
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) {
    throw new RuntimeForwardError(
      `${file}: the forward pass feeds one image input; the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const inputName = inputs[0].name ?? '';
  const inputDims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue)));

  const computed = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((name) => name !== '');
  const declared = new Set((graph.output ?? []).map((o) => o.name));
  // No type: ORT infers it. Non-float tensors (shapes, indices) come back too and are dropped after the run.
  for (const name of computed) if (!declared.has(name)) graph.output!.push(onnx.ValueInfoProto.create({ name }));
  const augmented = onnx.ModelProto.encode(proto).finish();

  const ort = loadOrt();
  let session: OrtModule.InferenceSession;
  try {
    session = await ort.InferenceSession.create(augmented, {
      // Each node's tensor as the node computes it (fusion is off for exposed tensors anyway).
      graphOptimizationLevel: 'disabled',
      logSeverityLevel: 3,
      externalData: typeof model === 'string' ? externalDataOf(graph, file) : undefined,
    });
  } catch (e) {
    throw new RuntimeForwardError(`onnxruntime-node could not load ${file}: ${messageOf(e)}`);
  }
  const order = [...computed, ...session.outputNames.filter((n) => !computed.includes(n))];

  return {
    file,
    inputName,
    inputDims,
    async run(input: Float32Array, shape: number[]): Promise<TensorMap> {
      const dims = feedDims(shape, inputDims, input.length, file);
      let outputs: OrtModule.InferenceSession.ReturnType;
      try {
        outputs = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
      } catch (e) {
        throw new RuntimeForwardError(`onnxruntime-node could not run ${file} on an input of shape [${dims.join(', ')}]: ${messageOf(e)}`);
      }
      const tensors: TensorMap = new Map();
      for (const name of order) {
        const t = outputs[name];
        // A copy: the structured clone to the caller must not drag along a larger backing buffer.
        if (t?.type === 'float32') tensors.set(name, { dims: t.dims.map(Number), data: (t.data as Float32Array).slice() });
      }
      return tensors;
    },
    release: () => session.release(),
  };
}

/** The shape to feed: the caller's, with a leading batch dim of 1 added when it was left out; checked against the model. */
function feedDims(shape: number[], declared: (number | string)[], length: number, file: string): number[] {
  const dims = declared.length > 0 && shape.length === declared.length - 1 ? [1, ...shape] : [...shape];
  const describe = (d: (number | string)[]) => `[${d.join(', ')}]`;
  const mismatch =
    declared.length > 0 && (dims.length !== declared.length || dims.some((d, i) => typeof declared[i] === 'number' && declared[i] > 0 && declared[i] !== d));
  if (mismatch || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RuntimeForwardError(`${file}: input shape ${describe(shape)} does not fit the model input ${describe(declared)}`);
  }
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) throw new RuntimeForwardError(`${file}: the input has ${length} values, shape ${describe(dims)} needs ${size}`);
  return dims;
}

/** ONNX external data files, read here (inside the model's folder only) because ORT resolves them against cwd for a buffer. */
function externalDataOf(graph: onnx.IGraphProto, file: string): { path: string; data: Uint8Array }[] | undefined {
  const locations = new Map<string, string>();
  for (const t of graph.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (location && !locations.has(location)) locations.set(location, `initializer ${t.name}`);
  }
  if (locations.size === 0) return undefined;
  const folder = path.dirname(file);
  return [...locations].map(([location, where]) => ({ path: location, data: readBytes(resolveInsideFolder(folder, location, file, where)) }));
}

function readBytes(file: string): Uint8Array {
  try {
    const buffer = fs.readFileSync(file);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (e) {
    throw new RuntimeForwardError(`${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
