// Messages between a caller (extension host or CLI, through src/runtime/runtimeClient) and the background worker, a
// forked child process. The channel uses Node's 'advanced' (structured clone) serialization, so Float32Array, Map
// and Infinity cross it unchanged.
import type { ModelReport } from '../engine/analysis/types';
import type { AnalysisOptions } from '../engine/analysis/analyseModel';
import type { ReadOptions } from '../engine/options';
import type { AttackReport } from '../engine/attack/types';
import type { AttackJobOptions } from '../engine/attack/attack';
import type { TensorMap } from './ortForward';

export type WorkerRequest =
  | { id: number; type: 'analyse'; file: string; read: ReadOptions; analysis: Omit<AnalysisOptions, 'onProgress'> }
  /** The layer table of a model, as text (the same as `leaklint layers`). */
  | { id: number; type: 'layers'; file: string; read: ReadOptions; baseDir: string }
  /** One onnxruntime-node forward pass with every intermediate float tensor exposed (ONNX models only). */
  | { id: number; type: 'forward'; file: string; input: Float32Array | number[]; shape: number[] }
  /**
   * The reconstruction attack. `trusted` (default true) lets it cross-check ONNX models with onnxruntime-node, which
   * is native code: pass false for an untrusted workspace, and the job stays pure JavaScript.
   */
  | { id: number; type: 'attack'; file: string; read: ReadOptions; options: AttackJobOptions; trusted?: boolean }
  /** Asks the job `id` to stop (jobs that await, such as the attack, honour it; the caller kills the process otherwise). */
  | { id: number; type: 'cancel' };

/** The jobs: every request except 'cancel'. */
export type JobRequest = Exclude<WorkerRequest, { type: 'cancel' }>;
export type JobType = JobRequest['type'];

export type WorkerMessage =
  | { id: number; type: 'progress'; done: number; total: number; label: string }
  | { id: number; type: 'result'; report: ModelReport }
  | { id: number; type: 'layers'; text: string }
  | { id: number; type: 'tensors'; tensors: TensorMap }
  | { id: number; type: 'attackResult'; report: AttackReport }
  /**
   * `code` is a ModelReadError code when the model could not be read, 'runtime' when onnxruntime-node failed,
   * 'cancelled' when the job stopped on a 'cancel' request, else 'internal'.
   */
  | { id: number; type: 'error'; code: string; message: string };

/** The final answer a job of each type resolves with (besides 'error'). */
export interface JobAnswers {
  analyse: Extract<WorkerMessage, { type: 'result' }>;
  layers: Extract<WorkerMessage, { type: 'layers' }>;
  forward: Extract<WorkerMessage, { type: 'tensors' }>;
  attack: Extract<WorkerMessage, { type: 'attackResult' }>;
}

export const ANSWER_TYPE: { [T in JobType]: JobAnswers[T]['type'] } = {
  analyse: 'result',
  layers: 'layers',
  forward: 'tensors',
  attack: 'attackResult',
};
