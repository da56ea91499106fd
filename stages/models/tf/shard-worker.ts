/**
 * Helper thread of a data-parallel training (data-parallel.ts): rebuilds the model from its
 * topology on its own TensorFlow.js instance, then for each step takes the step's weights from
 * shared memory and writes its shards' gradients and statistics back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as TF from '@tensorflow/tfjs';
import { initTf, type BackendName } from '../../tf/backend.js';
import type { HelperData, HelperReply, HelperRequest } from './data-parallel.js';
import { ShardComputer } from './shard.js';
import { errorMessage } from '../../errors.js';

const data = workerData as HelperData;
const port = parentPort;
const send = (reply: HelperReply): void => port?.postMessage(reply);

async function start(): Promise<ShardComputer> {
  const { tf } = await initTf(data.backend as BackendName);
  const model = await tf.models.modelFromJSON({ modelTopology: data.topology as TF.io.ModelJSON['modelTopology'] });
  return new ShardComputer(tf, model, data.sampleShape, data.numClasses, data.labelSmoothing);
}

start().then(
  (computer) => {
    const { trainable, state } = computer.layout;
    const width = trainable + state;
    const rowSize = data.sampleShape.reduce((a, b) => a * b, 1);
    const stateBefore = data.weights.subarray(trainable);
    port?.on('message', (request: HelperRequest) => {
      try {
        computer.setTrainable(data.weights.subarray(0, trainable));
        const outcomes = request.jobs.map((job) => ({
          index: job.index,
          ...computer.compute(
            data.batchX.subarray(job.start * rowSize),
            data.batchY.subarray(job.start),
            job.count,
            job.seeds,
            stateBefore,
            data.slots.subarray(job.index * width, (job.index + 1) * width),
          ),
        }));
        send({ type: 'done', outcomes });
      } catch (error) {
        send({ type: 'error', message: errorMessage(error) });
      }
    });
    send({ type: 'ready', trainable, state });
  },
  (error: unknown) => send({ type: 'error', message: errorMessage(error) }),
);
