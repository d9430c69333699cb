// Background worker: a child process that does everything that reads, analyses or runs a model (hostile files can
// make that slow or memory-hungry, and onnxruntime-node is native code that can crash) so that its caller never
// blocks or crashes on it. The caller (src/runtime/runtimeClient) sends one job at a time, and stops a job that will
// not stop by killing this process; 'cancel' lets a job that awaits (the attack) stop on its own first.
import { readModel } from '../engine/readers';
import { analyseModel } from '../engine/analysis/analyseModel';
import { writeLayersTable } from '../engine/reports/layers';
import { isModelReadError } from '../engine/errors';
import { runAttack, type ForwardCheck } from '../engine/attack/attack';
import { createForwardSession, ortForward, RuntimeForwardError, type ForwardSession } from './ortForward';
import type { JobRequest, WorkerMessage, WorkerRequest } from './protocol';

process.env.ORT_DISABLE_TELEMETRY = '1';

/** Jobs in progress, by id: a 'cancel' request aborts the job's signal. */
const running = new Map<number, AbortController>();

function send(message: WorkerMessage) {
  process.send?.(message);
}

process.on('message', (request: WorkerRequest) => {
  if (request.type === 'cancel') running.get(request.id)?.abort();
  else void runJob(request);
});
// Orphaned (the caller died without killing us): nobody is left to read an answer.
process.on('disconnect', () => process.exit(0));

async function runJob(request: JobRequest) {
  const controller = new AbortController();
  running.set(request.id, controller);
  try {
    send(await answer(request, controller.signal));
  } catch (e) {
    send(errorMessage(request.id, e, controller.signal));
  } finally {
    running.delete(request.id);
  }
}

async function answer(request: JobRequest, signal: AbortSignal): Promise<WorkerMessage> {
  const { id } = request;
  const onProgress = (done: number, total: number, label: string) => send({ id, type: 'progress', done, total, label });
  switch (request.type) {
    case 'layers':
      return { id, type: 'layers', text: writeLayersTable(readModel(request.file, request.read), request.baseDir) };
    case 'analyse':
      return { id, type: 'result', report: analyseModel(readModel(request.file, request.read), { ...request.analysis, onProgress }) };
    case 'forward': {
      const input = request.input instanceof Float32Array ? request.input : Float32Array.from(request.input);
      return { id, type: 'tensors', tensors: await ortForward(request.file, input, request.shape) };
    }
    case 'attack': {
      const graph = readModel(request.file, request.read);
      // One onnxruntime session for all the checks of this job, created at the first check.
      let session: Promise<ForwardSession> | undefined;
      const trusted = request.trusted ?? true;
      const forwardCheck: ForwardCheck | undefined =
        trusted && graph.format === 'onnx' ? async (input, shape) => (await (session ??= createForwardSession(request.file))).run(input, shape) : undefined;
      try {
        const report = await runAttack(graph, { ...request.options, signal, onProgress, forwardCheck });
        return { id, type: 'attackResult', report };
      } finally {
        await session?.then((s) => s.release()).catch(() => undefined);
      }
    }
  }
}

function errorMessage(id: number, e: unknown, signal: AbortSignal): WorkerMessage {
  if (isModelReadError(e)) return { id, type: 'error', code: e.code, message: e.message };
  if (e instanceof RuntimeForwardError) return { id, type: 'error', code: e.code, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  return { id, type: 'error', code: signal.aborted ? 'cancelled' : 'internal', message };
}
