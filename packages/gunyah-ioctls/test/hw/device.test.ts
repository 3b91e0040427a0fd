// Hardware tier: a real /dev/gunyah (a phone/board, or the testbed's QEMU machine with emu).
// Enable with GUNYAH_DEVICE=/dev/gunyah (the device path) and the built native addon.
import { ErrnoError } from '@gunyah-ts/sys';
import { describe, expect, it } from 'vitest';
import { Gunyah, UnsupportedIoctlError } from '../../src/index.js';

const device = process.env['GUNYAH_DEVICE'];

describe.skipIf(!device)('real /dev/gunyah (set GUNYAH_DEVICE=/dev/gunyah to enable)', () => {
  it('detects the variant and creates and closes a VM', () => {
    using gunyah = Gunyah.open({ path: device! });
    expect(['A', 'B', 'C']).toContain(gunyah.variant);
    using vm = gunyah.createVm();
    expect(vm.fd).toBeGreaterThanOrEqual(0);
  });

  it('answers like the spec for a never-started VM: RUN is ENODEV, unknown calls are ENOTTY', () => {
    using gunyah = Gunyah.open({ path: device! });
    using vm = gunyah.createVm();
    using vcpu = vm.addVcpu(0);
    expect(vcpu.mmapSize()).toBeGreaterThanOrEqual(4096);
    expect(() => vcpu.run()).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(() => vm.addVcpu(0)).toThrow(ErrnoError);
    if (!vm.supports('guest-memfd')) expect(() => gunyah.createGuestMem(0x1000)).toThrow(UnsupportedIoctlError);
  });
});
