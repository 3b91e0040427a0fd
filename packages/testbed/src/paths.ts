import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of this package (packages/testbed), computed from the location of the built file. */
export const packageDir: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Root of the checkout the tooling runs from (shared read-write into the arm64 host). */
export const repoRoot: string = resolve(packageDir, '..', '..');

/** Default cache directory (gitignored). Override with env `GUNYAH_TESTBED_CACHE`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['GUNYAH_TESTBED_CACHE'];
  return override !== undefined && override !== '' ? resolve(override) : join(packageDir, 'cache');
}
