/**
 * The two shipped examples of users' own code, run as a user would from the repository:
 * pipelines/examples/plugin.yaml (a TypeScript HOG stage plugin + a model plugin) and
 * pipelines/examples/exec-python.yaml (a numpy script as an `exec` stage). Each runs twice; the
 * second run is fully cached. CI installs python3-numpy (.ci/run); elsewhere a machine without it
 * skips the Python example with a warning.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStatus, makeRig, ROOT, type Rig } from './rig.js';

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const noNumpy = !hasNumpy() && process.env['CI'] !== 'true';
// eslint-disable-next-line no-console -- a skipped example must say why, and how to run it
if (noNumpy) console.warn('skipping the exec-python example: python3 with numpy not found (apt-get install python3-numpy to run it)');

describe('example pipelines of users\' own code', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  const runTwice = async (file: string, stages: string[]): Promise<Record<string, unknown>[]> => {
    const path = join(ROOT, 'pipelines', 'examples', file);
    const first = await rig.pipe(['run', path, '--json']);
    expect(first.code, first.stderr + first.stdout.slice(-2000)).toBe(0);
    const events = rig.events(first);
    expect([...byStatus(events, 'stage-done'), ...byStatus(events, 'stage-cached')].sort()).toEqual([...stages].sort());
    const second = await rig.pipe(['run', path, '--json']);
    expect(second.code).toBe(0);
    expect(byStatus(rig.events(second), 'stage-done')).toEqual([]);
    expect(byStatus(rig.events(second), 'stage-cached')).toEqual([...stages].sort());
    return events;
  };
  const accuracy = (events: Record<string, unknown>[], stage: string): number => {
    const done = events.find((e) => e['type'] === 'stage-done' && e['stage'] === stage) as { metrics: Record<string, number> } | undefined;
    return done?.metrics['accuracy'] ?? Number.NaN;
  };

  it('plugin.yaml: a TypeScript feature stage feeds svm, a plugin model trains and evaluates', async () => {
    const events = await runTwice('plugin.yaml', ['load', 'normalize', 'hog', 'split', 'train-svm', 'train-centroid', 'evaluate-svm', 'evaluate-centroid']);
    const hog = events.find((e) => e['type'] === 'stage-done' && e['stage'] === 'hog') as { metrics: { features: number } };
    expect(hog.metrics.features).toBe(4 * 4 * 9);
    // Far above chance (0.1) on 10 classes: the features and both models really work.
    expect(accuracy(events, 'evaluate-svm')).toBeGreaterThan(0.6);
    expect(accuracy(events, 'evaluate-centroid')).toBeGreaterThan(0.4);
  });

  it.skipIf(noNumpy)('exec-python.yaml: a numpy script writes .npy features that split and train read', async () => {
    const events = await runTwice('exec-python.yaml', ['load', 'normalize', 'features', 'split', 'train', 'evaluate']);
    const features = events.find((e) => e['type'] === 'stage-done' && e['stage'] === 'features') as { metrics: { features: number; exit_code: number } };
    expect(features.metrics).toMatchObject({ features: 49 + 28 + 28, exit_code: 0 });
    expect(accuracy(events, 'evaluate')).toBeGreaterThan(0.6);
  });
});
