// Runs a gradient graph (src/engine/gradientGraph) on onnxruntime-node: one session per graph, fed only the image,
// fetching only the objective and its image gradient (onnxruntime allocates outputs afresh on every run, so asking
// for less is what keeps a run cheap). The attack's optimiser (Adam, in JavaScript) drives `evaluate` in a loop.
import type * as OrtModule from 'onnxruntime-node';
import { loadOrt } from './ort';
import type { GradientGraph } from '../engine';

export interface GradientSessionOptions {
  /** Intra-op threads (default 1: the fastest on the 2-core machines measured, and it leaves a core to the caller). */
  threads?: number;
}

export interface GradientEvaluation {
  loss: number;
  /** ∂loss/∂x, the fed tensor's shape, flat (freshly allocated by onnxruntime; the caller may keep it). */
  gradient: Float32Array;
}

export interface GradientSession {
  readonly graph: Pick<GradientGraph, 'input' | 'outputs' | 'parameters'>;
  /** The objective and its gradient at x (float32, flat, `graph.input.shape`). x is read, not copied or kept. */
  evaluate(x: Float32Array): Promise<GradientEvaluation>;
  release(): Promise<void>;
}

/** onnxruntime-node refused or failed to run a gradient graph. */
export class GradientSessionError extends Error {
  readonly code = 'runtime';
  constructor(message: string) {
    super(message);
    this.name = 'GradientSessionError';
  }
}

export async function createGradientSession(graph: GradientGraph, options: GradientSessionOptions = {}): Promise<GradientSession> {
  const ort = loadOrt();
  const threads = options.threads ?? 1;
  let session: OrtModule.InferenceSession;
  try {
    session = await ort.InferenceSession.create(graph.bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new GradientSessionError(`onnxruntime-node could not load the gradient graph: ${messageOf(e)}`);
  }
  const { input, outputs } = graph;
  const size = input.shape.reduce((a, b) => a * b, 1);
  const fetches = [outputs.loss, outputs.gradient];
  return {
    graph: { input, outputs, parameters: graph.parameters },
    async evaluate(x: Float32Array): Promise<GradientEvaluation> {
      if (x.length !== size) throw new RangeError(`the gradient graph takes ${size} values ([${input.shape.join(', ')}]), got ${x.length}`);
      let result: OrtModule.InferenceSession.ReturnType;
      try {
        result = await session.run({ [input.name]: new ort.Tensor('float32', x, input.shape) }, fetches);
      } catch (e) {
        throw new GradientSessionError(`onnxruntime-node could not run the gradient graph: ${messageOf(e)}`);
      }
      return { loss: (result[outputs.loss].data as Float32Array)[0], gradient: result[outputs.gradient].data as Float32Array };
    },
    release: () => session.release(),
  };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
