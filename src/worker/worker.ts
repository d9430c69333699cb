// Background worker: a child process that does everything that reads, analyses or runs a model (hostile files can
// make that slow or memory-hungry, and onnxruntime-node is native code that can crash) so that its caller never
// blocks or crashes on it. It is an adapter like the CLI: each job calls one engine use case with Node's file access.
// The caller (src/runtime/runtimeClient) sends one job at a time, and stops a job that will not stop by killing this
// process; 'cancel' lets a cooperative job (the attack) stop on its own first.
import {
  attackFile,
  auditFile,
  buildForwardProbe,
  createIgnoreMatcher,
  discoverModelFiles,
  identifiabilityOfFile,
  layersOfFile,
  ModelReadError,
  type ForwardCheck,
  type GradientRuntime,
  type JobContext,
} from '../engine';
import { fingerprintFiles, recordingFileAccess } from '../node/fileFingerprints';
import { nodeFileAccess } from '../node/nodeFileAccess';
import {
  attackJob,
  auditJob,
  discoverJob,
  fingerprintedAuditJob,
  fingerprintJob,
  forwardJob,
  identifiabilityJob,
  layersJob,
  type JobErrorCode,
  type JobType,
  type WorkerMessage,
  type WorkerRequest,
} from '../shared/workerProtocol';
import { createJacobianProductSession } from './jacobianSession';
import { createForwardSession, RuntimeForwardError, type ForwardSession } from './ortForward';
import { createGradientSession, GradientSessionError } from './gradientSession';

process.env.ORT_DISABLE_TELEMETRY = '1';

type Handler = (params: never, context: JobContext) => Promise<unknown>;
const handlers = new Map<string, Handler>();

/** Registers the handler of one job type: the job's constant types its parameters and its result. */
function handle<P, R>(job: JobType<P, R>, handler: (params: P, context: JobContext) => Promise<R>) {
  handlers.set(job.name, handler as Handler);
}

handle(auditJob, ({ file, config, trusted }, context) => auditFile(file, config, { ...context, trusted }));

// The extension's audit: the same use case, and what it read, fingerprinted here so that the extension can cache the
// outcome and tell later, from file sizes and times alone, whether it still holds.
handle(fingerprintedAuditJob, async ({ file, config, trusted }, context) => {
  const recording = recordingFileAccess(context.files);
  const outcome = await auditFile(file, config, { ...context, files: recording.files, trusted });
  recording.read.add(file); // a model that could not even be opened is still an input (it may appear later)
  return { outcome, inputs: await fingerprintFiles(recording.read) };
});

handle(fingerprintJob, ({ files }) => fingerprintFiles(files));

handle(layersJob, ({ file, config, trusted }, context) => layersOfFile(file, config, { ...context, trusted }));

handle(discoverJob, ({ roots, ignore, baseDir }, { files }) => discoverModelFiles(files, roots, baseDir, createIgnoreMatcher(ignore, baseDir)));

handle(forwardJob, async ({ file, input, shape }, { files }) => {
  const session = await createForwardSession(await buildForwardProbe(files, file));
  try {
    return await session.run(input instanceof Float32Array ? input : Float32Array.from(input), shape);
  } finally {
    await session.release();
  }
});

handle(attackJob, async ({ file, config, options, trusted }, context) => {
  // One onnxruntime session for all the checks of this job, created at the first check; none when untrusted.
  let session: Promise<ForwardSession> | undefined;
  const forwardCheck: ForwardCheck | undefined =
    trusted && !file.toLowerCase().endsWith('.json')
      ? async (input, shape) => (await (session ??= buildForwardProbe(context.files, file).then(createForwardSession))).run(input, shape)
      : undefined;
  // Gradient matching runs its graphs on onnxruntime-node, one intra-op thread (the fastest on two cores); none when
  // untrusted, and the report says so.
  const gradientRuntime: GradientRuntime | undefined = trusted ? (graph) => createGradientSession(graph, { threads: 1 }) : undefined;
  try {
    return await attackFile(file, config, options, { ...context, trusted, forwardCheck, gradientRuntime });
  } finally {
    await session?.then((s) => s.release()).catch(() => undefined);
  }
});

handle(identifiabilityJob, async ({ file, config, options, trusted }, context) => {
  // Native code only where the workspace is trusted: otherwise there is no evidence (not "safe").
  if (!trusted) return { kind: 'not-run', file, reason: 'the workspace is not trusted, so the native runtime does not run' };
  return identifiabilityOfFile(file, config, options, { ...context, trusted, products: createJacobianProductSession });
});

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

async function runJob(request: Extract<WorkerRequest, { type: 'job' }>) {
  const { id } = request;
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const handler = handlers.get(request.job);
    if (!handler) throw new Error(`unknown job "${request.job}"`);
    const context: JobContext = {
      files: nodeFileAccess,
      signal: controller.signal,
      onProgress: (done, total, label, detail) => send({ id, type: 'progress', done, total, label, ...(detail ? { detail } : {}) }),
    };
    send({ id, type: 'result', result: await handler(request.params as never, context) });
  } catch (e) {
    const code: JobErrorCode = controller.signal.aborted
      ? 'cancelled'
      : e instanceof RuntimeForwardError || e instanceof GradientSessionError
        ? 'runtime'
        : e instanceof ModelReadError
          ? 'unreadable'
          : 'internal';
    send({ id, type: 'error', code, message: e instanceof Error ? e.message : String(e) });
  } finally {
    running.delete(id);
  }
}
