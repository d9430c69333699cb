// The containment rules for files something else names: a model's external data and shards (the model's folder), the
// extension's leaklint.configFile and leaklint.export.baseline settings (the workspace folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { containedPath } from '../../src/engine';
import { nodeFileAccess } from '../../src/node/nodeFileAccess';

test('a relative path inside the folder resolves to its real path; absolute paths, .. and links out are escapes', async () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-containment-')));
  const folder = path.join(root, 'workspace');
  fs.mkdirSync(path.join(folder, 'config'), { recursive: true });
  fs.writeFileSync(path.join(folder, 'config', 'leaklint.json'), '{}');
  fs.writeFileSync(path.join(root, 'outside.json'), '{}');
  fs.symlinkSync(path.join(root, 'outside.json'), path.join(folder, 'link.json'));
  fs.symlinkSync(path.join(folder, 'config', 'leaklint.json'), path.join(folder, 'inner-link.json'));
  const resolve = (relative: string) => containedPath(nodeFileAccess, folder, relative, 'the workspace folder');

  assert.deepEqual(await resolve('config/leaklint.json'), { kind: 'inside', path: path.join(folder, 'config', 'leaklint.json') });
  assert.deepEqual(await resolve('inner-link.json'), { kind: 'inside', path: path.join(folder, 'config', 'leaklint.json') });
  assert.deepEqual(await resolve('../outside.json'), { kind: 'escape', reason: 'refers to "../outside.json", which leaves the workspace folder' });
  assert.deepEqual(await resolve('config/../../outside.json'), {
    kind: 'escape',
    reason: 'refers to "config/../../outside.json", which leaves the workspace folder',
  });
  const absolute = path.join(root, 'outside.json');
  assert.deepEqual(await resolve(absolute), {
    kind: 'escape',
    reason: `refers to an absolute path "${absolute}"; only files inside the workspace folder are read`,
  });
  assert.deepEqual(await resolve('link.json'), { kind: 'escape', reason: '"link.json" is a link that leads outside the workspace folder' });
  assert.deepEqual(await resolve('missing.json'), { kind: 'missing', reason: 'refers to "missing.json", which does not exist' });
  assert.equal((await resolve('')).kind, 'escape');
  assert.equal((await resolve('a\0b')).kind, 'escape');
});
