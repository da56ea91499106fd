/** Manifests and the report record the installed package versions, not package.json ranges. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factsSection } from '../../stages/report/facts.js';
import { packageRoot } from '../../stages/schema.js';
import type { InputArtifact } from '../../stages/types.js';
import { installedVersion, installedVersions, versionLine } from '../../stages/versions.js';
import { makeRig, type Rig } from '../e2e/rig.js';

const installed = async (name: string): Promise<string> => (JSON.parse(await readFile(join(packageRoot(), 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

describe('installed versions', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  it('reads what node_modules holds, and leaves out what is not installed', async () => {
    const versions = installedVersions();
    expect(versions['@tensorflow/tfjs']).toBe(await installed('@tensorflow/tfjs'));
    expect(versions['@tensorflow/tfjs-backend-wasm']).toBe(await installed('@tensorflow/tfjs-backend-wasm'));
    expect(versions['libsvm-js']).toBe(await installed('libsvm-js'));
    expect(versions['node']).toBe(process.version);
    expect(installedVersion('no-such-package-for-pipe')).toBeUndefined();
  });

  it("a run's manifest environment holds installed versions, not ranges", async () => {
    await rig.write('v.yaml', 'stages:\n  load: { kind: load, params: { train_limit: 100, test_limit: 100 } }\n');
    const result = await rig.pipe(['run', 'v.yaml']);
    expect(result.code, result.stderr).toBe(0);
    const shards = await readdir(join(rig.dir, '.pipe', 'artifacts'));
    const keys = await readdir(join(rig.dir, '.pipe', 'artifacts', shards[0]!));
    const manifest = JSON.parse(await readFile(join(rig.dir, '.pipe', 'artifacts', shards[0]!, keys[0]!, 'manifest.json'), 'utf8')) as { environment: Record<string, string> };
    expect(manifest.environment['@tensorflow/tfjs']).toBe(await installed('@tensorflow/tfjs'));
    expect(manifest.environment['libsvm-js']).toBe(await installed('libsvm-js'));
    expect(manifest.environment['yaml']).toBe(await installed('yaml'));
    for (const [name, version] of Object.entries(manifest.environment)) if (name !== 'platform' && name !== 'host') expect(version, name).not.toMatch(/^[\^~]/);
  });

  it('the report facts show the versions a train artifact recorded', () => {
    const line = versionLine({ '@tensorflow/tfjs': '4.22.0', node: 'v20.0.0' });
    const artifact: InputArtifact = { stage: 'train-x', kind: 'train', dir: '/nowhere', files: {}, metrics: { backend: 'wasm', versions: line }, params: {}, path: () => '', has: () => false };
    const html = factsSection([{ role: 'model', artifact }], {}).html;
    expect(html).toContain('<th');
    expect(html).toContain('@tensorflow/tfjs 4.22.0, node v20.0.0');
  });
});
