import type { JsonValue, Params } from '../types.js';

/** The model a train artifact holds: its `model` param, or for a `select` output (which passes a train artifact on) its `model` metric. */
export function trainedModelName(artifact: { readonly params: Params; readonly metrics: Readonly<Record<string, JsonValue>> }): string | undefined {
  const name = artifact.params['model'] ?? artifact.metrics['model'];
  return typeof name === 'string' ? name : undefined;
}
