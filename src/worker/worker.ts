// Background worker: a child process that does everything that reads or analyses a model (hostile files can make
// that slow or memory-hungry) so the extension host never blocks or crashes on it. The attack with onnxruntime-node
// will run here too. One request at a time; cancellation is by killing the process (the host restarts it on demand).
import { readModel } from '../engine/readers';
import { analyzeModel } from '../engine/analysis/analyzeModel';
import { writeLayersTable } from '../engine/reports/layers';
import { isModelReadError } from '../engine/errors';
import type { WorkerMessage, WorkerRequest } from './protocol';

process.env.ORT_DISABLE_TELEMETRY = '1';

function send(message: WorkerMessage) {
  process.send?.(message);
}

process.on('message', (request: WorkerRequest) => {
  try {
    const graph = readModel(request.file, request.read);
    if (request.type === 'layers') {
      send({ id: request.id, type: 'layers', text: writeLayersTable(graph, request.baseDir) });
      return;
    }
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
