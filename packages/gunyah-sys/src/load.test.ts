import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BindingModule } from './binding.js';
import { existsSync } from 'node:fs';
import { BUILD_BINDING_PATH, BindingLoadError, getBinding, loadNativeBinding, searchBinding, setBinding } from './load.js';
import { close, ioctl } from './syscalls.js';
import { ErrnoError } from './errno.js';

afterEach(() => {
  setBinding(undefined);
  vi.unstubAllEnvs();
});

describe('binding loader', () => {
  it('uses an injected binding, and wrappers convert what it throws into ErrnoError', () => {
    const calls: unknown[] = [];
    const fake = {
      close(fd: number) {
        calls.push(['close', fd]);
        throw Object.assign(new Error('x'), { errno: 9, syscall: 'close' });
      },
      ioctl(fd: number, req: number) {
        calls.push(['ioctl', fd, req]);
        return 7;
      },
    } as unknown as BindingModule;
    expect(setBinding(fake)).toBeUndefined();
    expect(getBinding()).toBe(fake);
    expect(ioctl(3, 0x4703)).toBe(7);
    expect(() => close(5)).toThrow(ErrnoError);
    expect(calls).toEqual([
      ['ioctl', 3, 0x4703],
      ['close', 5],
    ]);
    expect(setBinding(undefined)).toBe(fake);
  });

  it('lists every path it tried when the addon is missing, with the fix', () => {
    let err: unknown;
    try {
      searchBinding([
        { source: 'GUNYAH_SYS_BINDING', path: '/nonexistent/a.node' },
        { source: 'build', path: '/nonexistent/b.node' },
        { source: 'prebuild', path: new URL(import.meta.url).pathname },
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BindingLoadError);
    const e = err as BindingLoadError;
    expect(e.code).toBe('BINDING_NOT_FOUND');
    expect(e.attempts.map((a) => [a.source, a.reason === 'file not found'])).toEqual([
      ['GUNYAH_SYS_BINDING', true],
      ['build', true],
      ['prebuild', false], // exists, but is not an addon: the loader's own message is kept
    ]);
    expect(e.message).toContain('/nonexistent/a.node');
    expect(e.message).toContain('npm run build:native -w @gunyah-ts/sys');
  });

  it('honours GUNYAH_SYS_BINDING before the build path', () => {
    vi.stubEnv('GUNYAH_SYS_BINDING', '/nonexistent/gunyah_sys.node');
    if (!existsSync(BUILD_BINDING_PATH)) {
      expect(() => loadNativeBinding()).toThrow(BindingLoadError);
      return;
    }
    // The env path is tried first and fails; the built addon is then used.
    expect(typeof loadNativeBinding().open).toBe('function');
  });
});
