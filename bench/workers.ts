/**
 * `--only workers`: pipelines/sweep-cnn.yaml from an empty store through BullMQ, with 1 and then 2
 * `pipe worker` processes (one slot each) sharing the run's store, on a redis-server started here
 * on a free loopback port. On a 2-core machine the speedup is bounded by the cores, not the queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, runPipeAsync, scratch } from './cli.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      server.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

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
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  await new Promise((r) => setTimeout(r, 500));
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
    redis.kill('SIGTERM');
  }
  return out;
}
