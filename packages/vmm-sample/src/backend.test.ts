import { createFakeGunyah } from '@gunyah-ts/sys/fake';
import { describe, expect, it, vi } from 'vitest';
import { selectBackend, type EmulatorModule } from './backend.js';

const fakeEmu = (ok = true): EmulatorModule & { created: unknown[]; closed: number } => {
  const m = {
    created: [] as unknown[],
    closed: 0,
    formatRmTrace: (entries: readonly { name: string }[]) => entries.map((e) => `→ ${e.name}`).join('\n'),
    emulatorAvailable: () => (ok ? { ok: true as const } : { ok: false as const, reason: 'no /dev/kvm' }),
    createEmulator: (o: { variant: 'A' | 'B' | 'C' }) => {
      m.created.push(o);
      return Object.assign(createFakeGunyah({ variant: o.variant }), {
        variant: o.variant,
        workerBinding: '/emu/worker.js',
        rmLog: [{ name: 'VM_ALLOC_VMID' }, { name: 'VM_START' }],
        close: () => {
          m.closed++;
        },
      });
    },
  };
  return m;
};

describe('selectBackend', () => {
  it('auto picks /dev/gunyah when it exists, without loading the emulator', async () => {
    const importEmulator = vi.fn(async () => fakeEmu());
    const b = await selectBackend('auto', 'auto', '/dev/gunyah', { exists: () => true, importEmulator });
    expect(b).toMatchObject({ kind: 'gunyah', binding: undefined, variant: 'auto', workerBinding: undefined });
    expect(importEmulator).not.toHaveBeenCalled();
  });

  it('auto falls back to the emulator, emulating C unless --abi says otherwise', async () => {
    const emu = fakeEmu();
    const b = await selectBackend('auto', 'auto', '/dev/gunyah', { exists: () => false, importEmulator: async () => emu });
    expect(b).toMatchObject({ kind: 'emu', variant: 'C', workerBinding: '/emu/worker.js' });
    expect(b.rmLog()).toEqual(['→ VM_ALLOC_VMID', '→ VM_START']);
    b.close();
    b.close();
    expect(emu.closed).toBe(1);
    const b2 = await selectBackend('emu', 'B', '/dev/gunyah', { exists: () => true, importEmulator: async () => emu });
    expect(b2.variant).toBe('B');
    expect(emu.created).toEqual([{ variant: 'C' }, { variant: 'B' }]);
  });

  it('explains the options when nothing is usable (NO_BACKEND)', async () => {
    const missing = selectBackend('auto', 'auto', '/dev/gunyah', { exists: () => false, importEmulator: async () => Promise.reject(new Error('Cannot find package')) });
    await expect(missing).rejects.toMatchObject({ code: 'NO_BACKEND', message: expect.stringMatching(/no \/dev\/gunyah and the emulator is unavailable: .*Cannot find package.*npm run demo/) });
    const noKvm = selectBackend('emu', 'auto', '/dev/gunyah', { exists: () => false, importEmulator: async () => fakeEmu(false) });
    await expect(noKvm).rejects.toMatchObject({ code: 'NO_BACKEND', message: expect.stringMatching(/no \/dev\/kvm/) });
    const noDevice = selectBackend('gunyah', 'auto', '/dev/gunyah', { exists: () => false });
    await expect(noDevice).rejects.toMatchObject({ code: 'NO_BACKEND', message: expect.stringMatching(/\/dev\/gunyah does not exist/) });
    const old = selectBackend('emu', 'auto', '/dev/gunyah', { importEmulator: async () => ({}) as EmulatorModule });
    await expect(old).rejects.toMatchObject({ code: 'NO_BACKEND' });
    const throws = selectBackend('emu', 'auto', '/dev/gunyah', {
      importEmulator: async () => ({ emulatorAvailable: () => ({ ok: true }), createEmulator: () => { throw new Error('KVM_CREATE_VM: ENOMEM'); } }),
    });
    await expect(throws).rejects.toMatchObject({ code: 'NO_BACKEND', message: expect.stringMatching(/ENOMEM/) });
  });

  it('an injected binding is used as is', async () => {
    const fake = createFakeGunyah({ variant: 'A' });
    expect(await selectBackend('gunyah', 'A', '/nope', { binding: fake })).toMatchObject({ kind: 'injected', binding: fake, variant: 'A' });
  });
});
