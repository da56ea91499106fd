/**
 * A pipeline with an artifact of every common type (data stages, a network, a classical model,
 * evaluations, Grad-CAM) on few rows, for the tests that check plumbing (queue, remote), not
 * accuracy. Each test adds its own `report` and any further stages.
 */
export function smallModelStages(trainLimit: number): string {
  return `  load: { kind: load, params: { train_limit: ${trainLimit}, test_limit: 100 } }
  inspect: { kind: inspect, inputs: { data: load } }
  normalize: { kind: normalize, inputs: { data: load } }
  reshape: { kind: reshape, inputs: { data: normalize } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split-images: { kind: split, inputs: { data: reshape }, params: { validation: 0.2 } }
  split-flat: { kind: split, inputs: { data: flatten }, params: { validation: 0.2 } }
  train-cnn: { kind: train, inputs: { data: split-images }, params: { model: cnn, epochs: 1, batch_size: 32 } }
  train-svm: { kind: train, inputs: { data: split-flat }, params: { model: svm, pca: 20 } }
  evaluate-cnn: { kind: evaluate, inputs: { model: train-cnn, data: split-images } }
  evaluate-svm: { kind: evaluate, inputs: { model: train-svm, data: split-flat } }
  explain-cnn:
    kind: explain
    inputs: { model: train-cnn, data: split-images, evaluation: evaluate-cnn }
    params: { per_class: { correct: 1, wrong: 1 }, class_mean_samples: 5 }
`;
}
