// Runs a Jᵀu graph (src/engine/gradientGraph/jacobianTranspose) on onnxruntime-node for the identifiability rank:
// one session per graph, fed the image and u, fetching only Jᵀu.
import type * as OrtModule from 'onnxruntime-node';
import type { JacobianProductRunner, JacobianProductSession, JacobianTransposeGraph } from '../engine';
import { GradientSessionError } from './gradientSession';

type Ort = typeof OrtModule;
let ortModule: Ort | undefined;

function loadOrt(): Ort {
  process.env.ORT_DISABLE_TELEMETRY = '1';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ortModule ??= require('onnxruntime-node') as Ort;
  return ortModule;
}

/** A session per graph, one intra-op thread (the other core stays with the caller). */
export const createJacobianProductSession: JacobianProductRunner = async (graph: JacobianTransposeGraph): Promise<JacobianProductSession> => {
  const ort = loadOrt();
  let session: OrtModule.InferenceSession;
  try {
    session = await ort.InferenceSession.create(graph.bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new GradientSessionError(`onnxruntime-node could not load the Jᵀu graph: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { x, u } = graph.inputs;
  return {
    async run(image: Float32Array, cotangent: Float32Array): Promise<Float32Array> {
      try {
        const out = await session.run({ [x.name]: new ort.Tensor('float32', image, x.shape), [u.name]: new ort.Tensor('float32', cotangent, u.shape) }, [
          graph.output,
        ]);
        return out[graph.output].data as Float32Array;
      } catch (e) {
        throw new GradientSessionError(`onnxruntime-node could not run the Jᵀu graph: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    release: () => session.release(),
  };
};
