// The kvm-ioctls EBADF sweep: every wrapper on objects adopting fd -2 must fail with EBADF (or, for
// calls the variant lacks, with UnsupportedIoctlError before any syscall). Returns the count checked.
import { ErrnoError, type BindingModule, type GunyahVariant } from '@gunyah-ts/sys';
import { expect } from 'vitest';
import { GuestMemfd, Gunyah, IoctlsError, UnsupportedIoctlError, Vcpu, Vm, variantInfo } from '../src/index.js';

export function ebadfSweep(binding: BindingModule, variant: GunyahVariant): number {
  const cPlus = variant === 'C';
  const info = variantInfo(variant, cPlus);
  const g = Gunyah.fromRawFd(-2, { binding, variant, cPlus });
  const vm = Vm.fromRawFd(-2, info, binding);
  const vcpu = Vcpu.fromRawFd(-2, { id: 0, info, binding });
  const gm = GuestMemfd.fromRawFd(-2, 0x1000n, binding);
  const region = { label: 0, guestPhysAddr: 0, memorySize: 0x1000, userspaceAddr: 0 };
  const sweep: [string, () => unknown][] = [
    ['createVm', () => g.createVm()],
    ['createGuestMem', () => g.createGuestMem(0x1000)],
    ['setUserMemRegion', () => vm.setUserMemRegion(region)],
    ['lendUserMem', () => vm.lendUserMem(region)],
    ['mapMem', () => vm.mapMem({ guestAddr: 0, guestMemFd: 0, offset: 0, size: 0x1000, flags: 0x71 })],
    ['unmapMem', () => vm.unmapMem({ guestAddr: 0, guestMemFd: 0, offset: 0, size: 0x1000, flags: 0x71 })],
    ['addGuestMemory', () => vm.addGuestMemory({ guestAddr: 0, size: 0x1000, mode: 'share', hostAddr: 0, fd: 0 })],
    ['setDtbConfig', () => vm.setDtbConfig({ guestPhysAddr: 0, size: 0x1000 })],
    ['setFirmwareConfig', () => vm.setFirmwareConfig({ guestPhysAddr: 0, size: 0x1000 })],
    ['setBootContext', () => vm.setBootContext('pc', 0, 1)],
    ['start', () => vm.start()],
    ['addVcpu', () => vm.addVcpu(0)],
    ['removeVcpu', () => vm.removeVcpu(0)],
    ['addIrqfd', () => vm.addIrqfd({ fd: 0, label: 0 })],
    ['removeIrqfd', () => vm.removeIrqfd({ fd: 0, label: 0 })],
    ['addIoeventfd', () => vm.addIoeventfd({ addr: 0, len: 4, fd: 0 })],
    ['removeIoeventfd', () => vm.removeIoeventfd({ addr: 0, len: 4, fd: 0 })],
    ['addFunction', () => vm.addFunction(1, new Uint8Array(4))],
    ['removeFunction', () => vm.removeFunction(1, new Uint8Array(4))],
    ['reclaimRegion', () => vm.reclaimRegion({ guestPhysAddr: 0, size: 0x1000 })],
    ['mapCmaMem', () => vm.mapCmaMem({ label: 0, guestAddr: 0, flags: 7, guestMemFd: 0, offset: 0, size: 0x1000 })],
    ['setAuthType', () => vm.setAuthType(1)],
    ['checkExtension', () => vm.checkExtension(0)],
    ['vcpu.mmapSize', () => vcpu.mmapSize()],
    ['vcpu.runPage', () => vcpu.runPage],
    ['vcpu.run', () => vcpu.run()],
    ['vcpu.immediateExit', () => vcpu.immediateExit],
    ['vcpu.completeMmioRead', () => vcpu.completeMmioRead(0)],
    ['vcpu.setResumeAction', () => vcpu.setResumeAction('fault')],
    ['vcpu.kick', () => vcpu.kick(1n)],
    ['vcpu.runWithMmio', () => vcpu.runWithMmio(() => 'handled')],
    ['gm.mmap', () => gm.mmap()],
    ['vm.close', () => vm.close()],
    ['vcpu.close', () => vcpu.close()],
    ['gm.close', () => gm.close()],
    ['gunyah.close', () => g.close()],
  ];
  let checked = 0;
  for (const [name, call] of sweep) {
    let err: unknown;
    try {
      call();
    } catch (e) {
      err = e;
    }
    // Not in this variant: refused before any syscall.
    if (err instanceof UnsupportedIoctlError) continue;
    if (err instanceof IoctlsError && err.code === 'UNSUPPORTED_RESUME_ACTION') continue;
    expect(err, name).toBeInstanceOf(ErrnoError);
    expect((err as ErrnoError).code, name).toBe('EBADF');
    checked++;
  }
  return checked;
}
