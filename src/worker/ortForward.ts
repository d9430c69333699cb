// Runs the engine's forward probe (the ONNX model with every node output exposed) in onnxruntime-node.
import type * as OrtModule from 'onnxruntime-node';
import { loadOrt } from './ort';
import type { ForwardProbe } from '../engine';
import type { TensorMap } from '../shared/workerProtocol';

/** onnxruntime-node refused the model or failed to run it; the message has ORT's own words and the model file. */
export class RuntimeForwardError extends Error {
  readonly code = 'runtime';
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeForwardError';
  }
}

export interface ForwardSession {
  readonly file: string;
  readonly inputName: string;
  /** The model input's declared dims: numbers, or the dim_param name of a dynamic dim. */
  readonly inputDims: (number | string)[];
  /** `shape` may leave out a leading batch dim (it is then 1). */
  run(input: Float32Array, shape: number[]): Promise<TensorMap>;
  release(): Promise<void>;
}

export async function createForwardSession(probe: ForwardProbe): Promise<ForwardSession> {
  const { file, inputName, inputDims, computed } = probe;
  const ort = loadOrt();
  let session: OrtModule.InferenceSession;
  try {
    session = await ort.InferenceSession.create(probe.model, {
      // Each node's tensor as the node computes it (fusion is off for exposed tensors anyway).
      graphOptimizationLevel: 'disabled',
      logSeverityLevel: 3,
      externalData: probe.externalData.length ? probe.externalData : undefined,
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

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
