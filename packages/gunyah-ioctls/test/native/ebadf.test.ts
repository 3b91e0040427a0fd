// The EBADF sweep against the real addon (real syscalls on fd -2).
import { loadNativeBinding, nativeBindingAvailable } from '@gunyah-ts/sys';
import { describe, expect, it } from 'vitest';
import { ebadfSweep } from '../ebadf-sweep.js';

describe.skipIf(!nativeBindingAvailable())('EBADF sweep, native addon (build it with `npm run build:native -w @gunyah-ts/sys`)', () => {
  it.each(['A', 'B', 'C'] as const)('variant %s', (variant) => {
    expect(ebadfSweep(loadNativeBinding(), variant)).toBeGreaterThan(20);
  });
});
