// Background worker: a child process that does the heavy work (numerical ranks now, the attack with
// onnxruntime-node later) so the extension host never blocks or crashes on it. One request at a time;
// cancellation is by killing the process (the host restarts it on demand).
import { readModel } from '../engine/readers';
import { analyzeModel } from '../engine/analysis/analyzeModel';
import { isModelReadError } from '../engine/errors';
import type { WorkerMessage, WorkerRequest } from './protocol';

process.env.ORT_DISABLE_TELEMETRY = '1';

function send(message: WorkerMessage) {
  process.send?.(message);
}

process.on('message', (request: WorkerRequest) => {
  if (request.type !== 'analyze') return;
  try {
    const graph = readModel(request.file, request.read);
    const report = analyzeModel(graph, {
      ...request.analysis,
      onProgress: (done, total, label) => send({ id: request.id, type: 'progress', done, total, label }),
    });
    send({ id: request.id, type: 'result', report });
  } catch (e) {
    if (isModelReadError(e)) send({ id: request.id, type: 'error', code: e.code, message: e.message });
    else send({ id: request.id, type: 'error', code: 'internal', message: e instanceof Error ? e.message : String(e) });
  }
});
