/**
 * Which file a download or preview request may read: only a file a manifest in the store names,
 * looked up by the artifact's key and the file's name exactly as the manifest records it. Nothing a
 * request says becomes part of a path unless it matched, so `../` and absolute paths cannot reach
 * outside the store; and the result is checked to lie inside the artifact's directory anyway, in
 * case a manifest on disk was written by hand.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { parseKeyHash } from '../../artifacts/hash.js';
import type { ArtifactReader } from '../../artifacts/store.js';

export type FileLookup = { readonly ok: true; readonly path: string; readonly bytes: number } | { readonly ok: false; readonly status: 400 | 404; readonly message: string };

export async function artifactFile(store: ArtifactReader, key: string | null, name: string | null): Promise<FileLookup> {
  const parsed = parseKeyHash(key ?? undefined);
  if (parsed === undefined || !name) return { ok: false, status: 400, message: 'give key=<artifact key, 64 hex digits> and name=<a file its manifest lists>' };
  const manifest = await store.readManifest(parsed);
  if (!manifest) return { ok: false, status: 404, message: `no artifact ${parsed} in the store` };
  const entry = Object.hasOwn(manifest.files, name) ? manifest.files[name] : undefined;
  if (!entry) return { ok: false, status: 404, message: `artifact ${parsed.slice(0, 12)} has no file named ${JSON.stringify(name)}` };
  const dir = resolve(store.artifactDir(parsed));
  const path = resolve(dir, name);
  const inside = relative(dir, path);
  if (!inside || inside.startsWith('..') || isAbsolute(inside)) return { ok: false, status: 404, message: `artifact ${parsed.slice(0, 12)}'s manifest names a file outside its directory` };
  return { ok: true, path, bytes: entry.bytes };
}
