/**
 * `--only workers`: pipelines/sweep-cnn.yaml from an empty store through BullMQ, with 1 and then 2
 * `pipe worker` processes (one slot each) sharing the run's store, on a redis-server started here
 * on a free loopback port. On a 2-core machine the speedup is bounded by the cores, not the queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startRedis } from '../test/services/redis.js';
import { ROOT, runPipeAsync, scratch } from './cli.js';

function startWorker(dir: string, url: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'pipe.js'), 'worker', '--queue', url, '--store', '.pipe'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('slot(s), queue')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

export async function benchWorkers(): Promise<Record<string, number>> {
  // The same throwaway server the tests use: a free loopback port, no persistence.
  const redis = await startRedis();
  const url = redis.url;
  const out: Record<string, number> = {};
  try {
    for (const count of [1, 2]) {
      const dir = scratch(`workers-${count}`);
      const workers = await Promise.all(Array.from({ length: count }, () => startWorker(dir, url)));
      console.error(`sweep-cnn.yaml with ${count} worker(s)…`);
      const run = await runPipeAsync(dir, ['run', join(ROOT, 'pipelines', 'sweep-cnn.yaml'), '--queue', url]);
      for (const w of workers) w.kill('SIGTERM');
      if (run.code !== 0) throw new Error(`sweep-cnn with ${count} worker(s) failed: ${run.stderr.slice(-2000)}`);
      out[`sweep_cnn_${count}_worker_wall_s`] = Number(run.seconds.toFixed(1));
    }
    out['speedup'] = Number((out['sweep_cnn_1_worker_wall_s']! / out['sweep_cnn_2_worker_wall_s']!).toFixed(2));
  } finally {
    await redis.stop();
  }
  return out;
}
