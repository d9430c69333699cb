// onnxruntime-node, loaded once and on first use: a worker that only analyses never loads native code, so the static
// analysis path (and an untrusted workspace) stays pure JavaScript and starts fast.
import type * as OrtModule from 'onnxruntime-node';

export type Ort = typeof OrtModule;
let ortModule: Ort | undefined;

export function loadOrt(): Ort {
  // The telemetry code in libonnxruntime leaves $TMPDIR/mat-debug-<pid>.log behind unless this is set first.
  process.env.ORT_DISABLE_TELEMETRY = '1';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ortModule ??= require('onnxruntime-node') as Ort;
  return ortModule;
}
