import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BindingModule } from './binding.js';

/** One place the loader looked for the addon, and why it was not used. */
export interface LoadAttempt {
  /** Where the attempt came from. */
  readonly source: 'setBinding' | 'GUNYAH_SYS_BINDING' | 'build' | 'prebuild';
  /** The path tried. */
  readonly path: string;
  /** What went wrong. */
  readonly reason: string;
}

/**
 * The native addon could not be loaded. `attempts` lists every path tried and why it failed; the
 * message says how to build the addon.
 */
export class BindingLoadError extends Error {
  /** Always `'BindingLoadError'`. */
  override readonly name = 'BindingLoadError';
  /** Always `'BINDING_NOT_FOUND'`. */
  readonly code = 'BINDING_NOT_FOUND';
  /** Every path tried, in order. */
  readonly attempts: readonly LoadAttempt[];

  /**
   * @param attempts - the paths tried and why each failed
   */
  constructor(attempts: readonly LoadAttempt[]) {
    super(
      'The @gunyah-ts/sys native addon could not be loaded. Tried:\n' +
        attempts.map((a) => `  - ${a.source}: ${a.path}: ${a.reason}`).join('\n') +
        '\nBuild it with `npm run build:native -w @gunyah-ts/sys` (needs cmake and a C++ compiler), ' +
        'or point GUNYAH_SYS_BINDING at a built gunyah_sys.node, or inject one with setBinding().',
    );
    this.attempts = attempts;
  }
}

const require = createRequire(import.meta.url);
let current: BindingModule | undefined;

/** Path of the addon built by `npm run build:native` (cmake-js output). */
export const BUILD_BINDING_PATH = fileURLToPath(new URL('../native/build/Release/gunyah_sys.node', import.meta.url));

/** Path of a prebuilt addon for this platform, if the package ships one. */
export const PREBUILD_BINDING_PATH = fileURLToPath(
  new URL(`../prebuilds/${process.platform}-${process.arch}/gunyah_sys.node`, import.meta.url),
);

function tryLoad(path: string, source: LoadAttempt['source'], attempts: LoadAttempt[]): BindingModule | undefined {
  if (!existsSync(path)) {
    attempts.push({ source, path, reason: 'file not found' });
    return undefined;
  }
  try {
    return require(path) as BindingModule;
  } catch (e) {
    attempts.push({ source, path, reason: e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e) });
    return undefined;
  }
}

/**
 * Inject the binding every wrapper in this package uses (a fake in tests, an emulator), or `undefined`
 * to go back to loading the native addon. Returns the previous binding.
 */
export function setBinding(binding: BindingModule | undefined): BindingModule | undefined {
  const previous = current;
  current = binding;
  return previous;
}

/**
 * The binding in use: an injected one ({@link setBinding}), else the addon at `GUNYAH_SYS_BINDING`,
 * else the one built in this package (`native/build/Release`), else a prebuild. Loaded once per thread.
 *
 * @throws {BindingLoadError} BINDING_NOT_FOUND when no addon can be loaded
 */
export function getBinding(): BindingModule {
  if (current) return current;
  current = loadNativeBinding();
  return current;
}

/**
 * Load the native addon, ignoring any injected binding (the search order of {@link getBinding}).
 *
 * @throws {BindingLoadError} BINDING_NOT_FOUND when no addon can be loaded
 */
export function loadNativeBinding(): BindingModule {
  const fromEnv = process.env['GUNYAH_SYS_BINDING'];
  return searchBinding([
    ...(fromEnv ? [{ source: 'GUNYAH_SYS_BINDING' as const, path: fromEnv }] : []),
    { source: 'build', path: BUILD_BINDING_PATH },
    { source: 'prebuild', path: PREBUILD_BINDING_PATH },
  ]);
}

/**
 * Load the first candidate that loads; the search behind {@link loadNativeBinding}.
 *
 * @internal
 */
export function searchBinding(candidates: readonly { source: LoadAttempt['source']; path: string }[]): BindingModule {
  const attempts: LoadAttempt[] = [];
  for (const c of candidates) {
    const found = tryLoad(c.path, c.source, attempts);
    if (found) return found;
  }
  throw new BindingLoadError(attempts);
}

/** Whether the native addon can be loaded on this machine (never throws). */
export function nativeBindingAvailable(): boolean {
  try {
    loadNativeBinding();
    return true;
  } catch {
    return false;
  }
}
