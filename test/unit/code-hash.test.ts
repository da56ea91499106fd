import type { ContentHash } from '../../artifacts/hash.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { explainChange, formatReason, keyHash, type KeyRecord } from '../../artifacts/key.js';
import { CodeHashError, codeClosure } from '../../runner/plugins/code-hash.js';

describe('code closure of a plugin module', () => {
  let dir: string;
  const write = async (file: string, text: string): Promise<string> => {
    const path = join(dir, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    return path;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipe-code-'));
    await write('node_modules/left-pad/package.json', '{ "name": "left-pad", "version": "1.3.0" }');
    await write('node_modules/@scope/tool/package.json', '{ "name": "@scope/tool", "version": "2.0.1" }');
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('follows local imports transitively, adds package versions, skips built-ins and type-only imports', async () => {
    const entry = await write(
      'plugins/stage.ts',
      `import { readFile } from 'node:fs/promises';
import type { Shape } from './types.js';
import { Only } from './only-types.js';
import { crop } from './helpers/crop.js';
export * from './reexported';
import pad from 'left-pad';
import { x } from '@scope/tool/sub';
export const s: Shape & Only = { run: () => crop(pad(String(x))), readFile };
const later = () => import('./lazy.mjs');
`,
    );
    await write('plugins/types.ts', 'export interface Shape { run(): unknown }');
    await write('plugins/only-types.ts', 'export interface Only { readFile: unknown }');
    await write('plugins/helpers/crop.ts', "import { deep } from '../deep/index.js';\nexport const crop = (s: string): string => deep(s);");
    await write('plugins/deep/index.ts', "import { crop } from '../helpers/crop.js';\nexport const deep = (s: string): string => s; void crop;");
    await write('plugins/reexported.js', 'export const r = 1;');
    await write('plugins/lazy.mjs', 'export default 1;');
    const code = await codeClosure(entry, dir);
    expect(Object.keys(code).sort()).toEqual([
      'npm:@scope/tool',
      'npm:left-pad',
      'plugins/deep/index.ts',
      'plugins/helpers/crop.ts',
      'plugins/lazy.mjs',
      'plugins/reexported.js',
      'plugins/stage.ts',
    ]);
    expect(code['npm:left-pad']).toBe('1.3.0');
    expect(code['npm:@scope/tool']).toBe('2.0.1');

    // A change two imports away changes the closure; the hash is over bytes, so formatting counts too.
    const before = code['plugins/deep/index.ts'];
    await write('plugins/deep/index.ts', "import { crop } from '../helpers/crop.js';\nexport const deep = (s: string): string =>  s; void crop;");
    expect((await codeClosure(entry, dir))['plugins/deep/index.ts']).not.toBe(before);
  });

  it('refuses an import it cannot resolve or a package that is not installed', async () => {
    const missing = await write('a.ts', "import { b } from './b.js';\nexport const a = b;");
    await expect(codeClosure(missing, dir)).rejects.toThrow(CodeHashError);
    await expect(codeClosure(missing, dir)).rejects.toThrow(/a\.ts imports "\.\/b\.js", which is not a file/);
    const pkg = await write('c.js', "import q from 'not-installed';\nexport default q;");
    await expect(codeClosure(pkg, dir)).rejects.toThrow(/package "not-installed", which is not installed/);
  });
});

describe('code in the key', () => {
  const base: KeyRecord = { format: 1, kind: 'hog', impl: 'hog@1', params: {}, inputs: { data: 'abc' as ContentHash }, files: {} };

  it('is a separate field: a record without it hashes as before, and each changed file is a reason', () => {
    const withCode: KeyRecord = { ...base, code: { 'plugins/hog.ts': 'a', 'plugins/helpers/g.ts': 'b' } };
    expect(keyHash(withCode)).not.toBe(keyHash(base));
    expect(keyHash({ ...base })).toBe(keyHash(JSON.parse(JSON.stringify(base)) as KeyRecord));
    const changed: KeyRecord = { ...base, code: { 'plugins/hog.ts': 'a', 'plugins/helpers/g.ts': 'c', 'npm:left-pad': '1.3.0' } };
    expect(explainChange(withCode, changed).map(formatReason)).toEqual(['code-changed npm:left-pad', 'code-changed plugins/helpers/g.ts']);
    expect(explainChange(base, base)).toEqual([]);
  });
});
