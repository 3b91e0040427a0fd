// The emulator as a whole on any Linux machine with the native addon (real memfds, real
// /proc/self/mem), with KVM replaced by the recording executor: the VMM call sequence through
// @gunyah-ts/ioctls for each variant, the RM conversation of spec/gunyah-uapi.md §7, the overlay,
// parcels, exits, teardown.
import { describe, expect, it } from 'vitest';
import { nativeBindingAvailable, VM_EXIT_TYPE, type BindingModule } from '@gunyah-ts/sys';
import { RM_VM_STATUS } from '@gunyah-ts/rm-proto';
import { parseDtb, readHeader } from '@gunyah-ts/devicetree';
import { createEmulator, emulatorRm, EmuError, formatRmTrace, type Emulator, type RmTraceEntry } from '../index.js';
import { DTB_OFFSET, IOEVENT, MMIO, RAM_BASE, RAM_SIZE, RecordingExecutor, setupTinyVm } from '../../test/helpers.js';

const native = nativeBindingAvailable();
const suite = describe.skipIf(!native);

function make(variant: 'A' | 'B' | 'C', extra: { cPlus?: boolean } = {}) {
  const executor = new RecordingExecutor();
  const emu = createEmulator({ variant, executor, kaslrSeed: () => 0x1234n, ...extra });
  return { emu, executor };
}

const program = new Uint8Array([0x1f, 0x20, 0x03, 0xd5]); // nop

const requests = (log: readonly RmTraceEntry[]): string[] => log.filter((e) => e.type === 'request').map((e) => e.name ?? `0x${e.msgId.toString(16)}`);

suite('VMM call sequence on the emulator (recording executor)', () => {
  it.each([
    ['A', ['VM_ALLOC_VMID', 'MEM_SHARE', 'VM_CONFIG_IMAGE', 'VM_INIT', 'VM_GET_HYP_RESOURCES', 'VM_START']],
    ['B', ['VM_ALLOC_VMID', 'MEM_LEND', 'VM_CONFIG_IMAGE', 'VM_SET_DEMAND_PAGING', 'VM_SET_ADDRESS_LAYOUT', 'VM_INIT', 'VM_SET_BOOT_CONTEXT_V15', 'VM_GET_HYP_RESOURCES', 'VM_START']],
    ['C', ['VM_ALLOC_VMID', 'MEM_SHARE', 'VM_CONFIG_IMAGE', 'VM_SET_DEMAND_PAGING', 'VM_SET_ADDRESS_LAYOUT', 'VM_INIT', 'VM_SET_BOOT_CONTEXT', 'VM_GET_HYP_RESOURCES', 'VM_START']],
  ] as const)('variant %s: RM conversation in the order of spec §7, KVM plan, exits, teardown', (variant, order) => {
    const { emu, executor } = make(variant);
    const t = setupTinyVm(emu, variant, program);
    t.vm.start();
    expect(requests(emu.rmLog)).toEqual(order);
    // notifications in the spec's order: VM_STATUS INIT before the CONFIG_IMAGE reply, READY before VM_INIT's, RUNNING before VM_START's
    const seq = emu.rmLog.map((e) => (e.type === 'notification' ? `N:${String((e.payload as { vmStatus: number }).vmStatus)}` : `${e.type === 'request' ? '>' : '<'}${e.name}`));
    const i = (s: string) => seq.indexOf(s);
    expect(i(`N:${RM_VM_STATUS.INIT}`)).toBeLessThan(i('<VM_CONFIG_IMAGE'));
    expect(i(`N:${RM_VM_STATUS.READY}`)).toBeLessThan(i('<VM_INIT'));
    expect(i(`N:${RM_VM_STATUS.RUNNING}`)).toBeLessThan(i('<VM_START'));
    expect(emu.rmLog.every((e) => e.type !== 'reply' || e.rmError === 'OK')).toBe(true);

    // KVM plan: memory slot, GIC from the DT, vCPU 0 booting at the RAM base with x0 = DTB
    const plan = executor.plans[0]!;
    expect(plan.memory).toHaveLength(1);
    expect(plan.memory[0]).toMatchObject({ guestPhysAddr: RAM_BASE, size: BigInt(RAM_SIZE), readonly: false });
    expect(plan.gicdBase).toBe(0x3fff_0000n);
    expect(plan.gicrBase).toBe(0x3ffd_0000n);
    expect(plan.vcpus).toEqual([{ slot: 0, boot: true, regs: new Map([['pc', RAM_BASE], ['x0', RAM_BASE + BigInt(DTB_OFFSET)]]) }]);
    expect(plan.irqfds).toEqual([{ fd: t.irqEfd, spi: 0, level: false }]);
    expect(plan.ioeventfds).toEqual([{ addr: IOEVENT, len: 0, datamatch: undefined, fd: t.ioEfd }]);

    // the overlaid DT was written back into the DTB window
    const rm = emulatorRm(emu);
    const vmid = (emu.rmLog.find((e) => e.name === 'VM_ALLOC_VMID' && e.type === 'reply')?.payload as { vmid: number }).vmid;
    const started = rm.started(vmid)!;
    let bytes: Uint8Array;
    if (variant === 'B') {
      bytes = new Uint8Array(started.dtb.length);
      emu.pread(t.memfd, bytes, DTB_OFFSET);
    } else {
      bytes = new Uint8Array(t.ram!, DTB_OFFSET, started.dtb.length);
    }
    const tree = parseDtb(bytes.subarray(0, readHeader(bytes).totalsize));
    expect(tree.findNode('/hypervisor/qcom,gunyah-vm')?.property('qcom,vmid')?.asU32()).toBe(vmid);
    expect(tree.findNode('/chosen')?.property('kaslr-seed')?.asU64()).toBe(0x1234n);
    expect(tree.findNode('/hypervisor/bell-0@2000')?.property('interrupts')?.asU32Array()).toEqual([0, 0, 1]);
    expect(tree.findNode('/cpus/cpu@0')?.property('qcom,gunyah-capability')?.asU64()).toBe(0x1000n);
    expect(tree.findNode('/memory')?.property('reg')?.asCellNumbers(2)).toEqual([RAM_BASE, BigInt(RAM_SIZE)]);

    // exits: MMIO write, MMIO read completed with the VMM's data, ioeventfd in KVM, SYSTEM_OFF
    executor.scripts.set(1000, [
      { kind: 'mmio', addr: MMIO, len: 8, isWrite: true, data: 0x42n },
      { kind: 'mmio', addr: MMIO, len: 8, isWrite: false, data: 0n },
      { kind: 'hypercall', nr: 0x8600ff01n, functionId: 0x8600ff01, smc: false, flags: 0n },
      { kind: 'mmio', addr: MMIO + 8n, len: 8, isWrite: true, data: 0x12n },
      { kind: 'system-event', event: 'shutdown', type: 2, data: [0n] },
    ]);
    expect(t.vcpu.run()).toMatchObject({ kind: 'mmio', addr: MMIO, len: 8, isWrite: true, data: 0x42n });
    const read = t.vcpu.run();
    expect(read).toMatchObject({ kind: 'mmio', isWrite: false, addr: MMIO, len: 8 });
    t.vcpu.completeMmioRead(0x11n);
    expect(t.vcpu.run()).toMatchObject({ kind: 'mmio', isWrite: true, addr: MMIO + 8n, data: 0x12n });
    expect(executor.calls).toContain('read-data 0x11/8');
    expect(executor.calls.some((c) => c.startsWith('hvc-answer '))).toBe(true);
    const off = t.vcpu.run();
    expect(off).toMatchObject({ kind: 'shutdown', status: 2, exitType: VM_EXIT_TYPE.PSCI_POWER_OFF });
    // terminal: the next run returns at once with the same page; the main thread reports the exit to the RM
    let before = emu.rmLog.length;
    expect(t.vcpu.run()).toMatchObject({ kind: 'shutdown' });
    expect(emu.rmLog.slice(before).map((e) => `${e.type[0]}:${e.name}`)).toEqual(['n:VM_STATUS', 'n:VM_EXITED']);
    expect(emu.rmLog.at(-1)?.payload).toEqual({ vmid, exitType: 1, reason: [0] });
    expect(rm.vm(vmid)?.status).toBe(RM_VM_STATUS.EXITED);

    // teardown: reset, reclaim, dealloc (sync in every variant)
    before = emu.rmLog.length;
    t.close();
    const tail = emu.rmLog.slice(before).map((e) => `${e.type[0]}:${e.name}`);
    expect(tail).toEqual([
      'r:VM_RESET',
      'n:VM_STATUS',
      'r:VM_RESET',
      'n:MEM_RELEASED',
      'n:VM_STATUS',
      'r:MEM_RECLAIM',
      'r:MEM_RECLAIM',
      'r:VM_DEALLOC_VMID',
      'r:VM_DEALLOC_VMID',
    ]);
    expect(rm.vm(vmid)).toBeUndefined();
    expect(rm.parcelHandles()).toEqual([]);
    expect(executor.events.at(-1)).toBe('close');
    emu.close();
  });

  it('formats the RM trace one line per message', () => {
    const { emu } = make('C');
    const t = setupTinyVm(emu, 'C', program);
    t.vm.start();
    const text = formatRmTrace(emu.rmLog);
    expect(text.split('\n')[0]).toBe('→ VM_ALLOC_VMID #0');
    expect(text).toContain('⇐ VM_STATUS');
    expect(text).toContain('← VM_START #8 OK');
    t.close();
    emu.close();
  });

  it('rmTrace receives entries instead of rmLog', () => {
    const seen: RmTraceEntry[] = [];
    const emu = createEmulator({ variant: 'A', executor: new RecordingExecutor(), rmTrace: (e) => seen.push(e) });
    const t = setupTinyVm(emu, 'A', program);
    t.vm.start();
    expect(emu.rmLog).toHaveLength(0);
    expect(seen.map((e) => e.index)).toEqual(seen.map((_, i) => i));
    expect(seen.every((e) => e.fragments >= 1)).toBe(true);
    t.close();
    emu.close();
  });

  it('runs before start return ENODEV; a lent DTB still mapped in B fails start with EPERM', () => {
    const { emu } = make('B');
    const t = setupTinyVm(emu, 'B', program);
    expect(() => t.vcpu.run()).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    const map = emu.mmap(t.memfd, 4096, 3, 1, DTB_OFFSET);
    expect(() => t.vm.start()).toThrow(expect.objectContaining({ code: 'EPERM' }) as Error);
    expect(requests(emu.rmLog)).toEqual([]); // the kernel check comes before any RM message
    emu.munmap(map);
    // a failed start is terminal (spec §5.6)
    expect(() => t.vm.start()).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    t.close();
    emu.close();
  });

  it('a DT the RM refuses fails VM_INIT: EINVAL, VM_STATUS INIT_FAILED, teardown resets', () => {
    const { emu } = make('C');
    const t = setupTinyVm(emu, 'C', program);
    new Uint8Array(t.ram!, DTB_OFFSET, 4).fill(0); // break the FDT magic
    expect(() => t.vm.start()).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    const last = emu.rmLog.filter((e) => e.type === 'reply').at(-1)!;
    expect(last.name).toBe('VM_INIT');
    expect(last.rmError).toBe('ARGUMENT_INVALID');
    expect(() => t.vcpu.run()).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    const before = emu.rmLog.length;
    t.close();
    expect(requests(emu.rmLog.slice(before))).toEqual(['VM_RESET', 'MEM_RECLAIM', 'VM_DEALLOC_VMID']);
    emu.close();
  });

  it('a DT without room for the overlay in its window fails VM_START (A: no minimum size)', () => {
    const { emu } = make('A');
    const t = setupTinyVm(emu, 'A', program);
    const size = readHeader(new Uint8Array(t.ram!, DTB_OFFSET, 0x1000)).totalsize;
    t.vm.setDtbConfig({ guestPhysAddr: RAM_BASE + BigInt(DTB_OFFSET), size });
    expect(() => t.vm.start()).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    const last = emu.rmLog.filter((e) => e.type === 'reply').at(-1)!;
    expect([last.name, last.rmError]).toEqual(['VM_START', 'ARGUMENT_INVALID']);
    t.close();
    emu.close();
  });

  it('lend in A and C: MEM_LEND with one ACL entry; C protected lists only lend bindings', () => {
    for (const v of ['A', 'C'] as const) {
      const { emu } = make(v);
      const t = setupTinyVm(emu, v, program, { mode: 'lend' });
      t.vm.start();
      const lend = emu.rmLog.find((e) => e.name === 'MEM_LEND' && e.type === 'request')!.payload as { acl: { vmid: number; rights: number }[] };
      expect(lend.acl).toHaveLength(1);
      expect(lend.acl[0]!.rights).toBe(7);
      t.close();
      emu.close();
    }
  });

  it('irqfd and ioeventfd added after start attach at once; removal detaches', () => {
    const { emu, executor } = make('C');
    const t = setupTinyVm(emu, 'C', program);
    t.vm.start();
    const c = emu.constants();
    const e2 = emu.eventfd(0, c.EFD_NONBLOCK);
    t.vm.addIoeventfd({ addr: IOEVENT + 0x100n, len: 4, fd: e2, datamatch: 7 });
    expect(executor.events.at(-1)).toBe(`attach ioeventfd 0x${(IOEVENT + 0x100n).toString(16)}/4`);
    t.vm.removeIoeventfd({ addr: IOEVENT + 0x100n, len: 4, fd: e2, datamatch: 7 });
    expect(executor.events.at(-1)).toBe(`detach ioeventfd 0x${(IOEVENT + 0x100n).toString(16)}/4`);
    t.vm.removeIrqfd({ fd: t.irqEfd, label: 0 });
    expect(executor.events.at(-1)).toBe(`detach irqfd fd=${t.irqEfd} spi=0`);
    // a label without a doorbell is accepted and never reaches KVM (spec §5.7)
    t.vm.addIrqfd({ fd: e2, label: 99 });
    expect(executor.events.at(-1)).toBe(`detach irqfd fd=${t.irqEfd} spi=0`);
    // a vCPU added after start has no KVM vCPU (vGIC already initialised): RUN → ENODEV
    const late = t.vm.addVcpu(1);
    expect(() => late.run()).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    late.close();
    emu.close(e2);
    t.close();
    emu.close();
  });

  it('MMIO resume actions: B RETRY re-issues the exit, FAULT injects an abort, C RETRY is EINVAL', () => {
    for (const v of ['B', 'C'] as const) {
      const { emu, executor } = make(v);
      const t = setupTinyVm(emu, v, program);
      t.vm.start();
      executor.scripts.set(1000, [{ kind: 'mmio', addr: MMIO, len: 4, isWrite: false, data: 0n }, { kind: 'mmio', addr: MMIO, len: 4, isWrite: false, data: 0n }]);
      expect(t.vcpu.run()).toMatchObject({ kind: 'mmio', isWrite: false });
      t.vcpu.runPage.mmioResumeAction = 2;
      if (v === 'B') {
        expect(t.vcpu.run()).toMatchObject({ kind: 'mmio', isWrite: false, addr: MMIO, len: 4 });
        expect(executor.calls.filter((c) => c.startsWith('run'))).toHaveLength(1);
      } else {
        expect(() => t.vcpu.run()).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
      }
      t.vcpu.runPage.mmioResumeAction = 1;
      expect(t.vcpu.run()).toMatchObject({ kind: 'mmio', isWrite: false });
      expect(executor.calls).toContain('inject-dabt');
      t.close();
      emu.close();
    }
  });

  it('immediate_exit → EINTR; a kick (KVM EINTR) → EINTR; crash → CRASHED and siblings stopped', () => {
    const { emu, executor } = make('A');
    const t = setupTinyVm(emu, 'A', program);
    t.vm.start();
    t.vcpu.runPage.immediateExit = 1;
    expect(t.vcpu.run()).toEqual({ kind: 'interrupted' });
    expect(executor.calls.filter((c) => c.startsWith('run'))).toHaveLength(0); // refused before KVM_RUN
    t.vcpu.runPage.immediateExit = 0;
    expect(t.vcpu.run()).toEqual({ kind: 'interrupted' }); // empty script = KVM_RUN returned EINTR
    expect(executor.calls).toContain('immediate-exit 1000=0');
    executor.scripts.set(1000, [{ kind: 'internal-error', suberror: 1, data: [] }]);
    expect(t.vcpu.run()).toMatchObject({ kind: 'crash', status: 3 });
    const before = emu.rmLog.length;
    t.close();
    const exited = emu.rmLog.slice(before).find((e) => e.name === 'VM_EXITED')?.payload as { exitType: number };
    expect(exited.exitType).toBe(5);
    emu.close();
  });

  it('SYSTEM_RESET → EXITED with the reset exit type', () => {
    const { emu, executor } = make('C');
    const t = setupTinyVm(emu, 'C', program);
    t.vm.start();
    executor.scripts.set(1000, [{ kind: 'system-event', event: 'reset', type: 2, data: [] }]);
    expect(t.vcpu.run()).toMatchObject({ kind: 'reset', status: 2, exitType: VM_EXIT_TYPE.PSCI_SYSTEM_RESET });
    t.close();
    emu.close();
  });

  it('a second vCPU is stopped by its sibling: immediate_exit on its kvm_run, then STATUS', () => {
    const { emu, executor } = make('C');
    const t = setupTinyVm(emu, 'C', program);
    const v1 = t.vm.addVcpu(1);
    // the DT has one CPU: vCPU 1 gets no RM resource → no KVM vCPU → ENODEV
    t.vm.start();
    expect(executor.plans[0]!.vcpus.map((v) => v.slot)).toEqual([0]);
    expect(() => v1.run()).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    v1.close();
    t.close();
    emu.close();
  });

  it('variant rules still hold: A rejects boot context (ENOTTY), C rejects guest_memfd, labels unique in A', () => {
    const { emu } = make('A');
    const t = setupTinyVm(emu, 'A', program);
    expect(() => t.vm.setBootContext('pc', 0, 0x1000)).toThrow(expect.objectContaining({ code: 'ENOTTY' }) as Error);
    expect(() => t.vm.setUserMemRegion({ label: 0, guestPhysAddr: 0x1_0000_0000n, memorySize: 4096, userspaceAddr: emu.addressOf(t.ram!), flags: 7 })).toThrow(
      expect.objectContaining({ code: 'EEXIST' }) as Error,
    );
    t.close();
    emu.close();
    const c = make('C');
    const g = setupTinyVm(c.emu, 'C', program);
    expect(() => g.gunyah.createGuestMem(4096)).toThrow(expect.objectContaining({ code: 'ENOTTY' }) as Error);
    g.close();
    c.emu.close();
  });

  it('everything else passes through; emulated fds refuse read/write; close() tears everything down', () => {
    const { emu, executor } = make('B');
    const t = setupTinyVm(emu, 'B', program);
    t.vm.start();
    expect(() => emu.read(t.vm.fd, new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(() => emu.mmap(t.vm.fd, 4096, 3, 1, 0)).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    emu.close();
    expect(executor.events.at(-1)).toBe('close');
    expect(() => emu.open('/dev/gunyah', 2)).toThrow(EmuError);
  });
});

describe('createEmulator options', () => {
  it('rejects bad variants and cPlus without C', () => {
    expect(() => createEmulator({ variant: 'D' as 'A', executor: new RecordingExecutor() })).toThrow(expect.objectContaining({ code: 'BAD_OPTIONS' }) as Error);
    expect(() => createEmulator({ variant: 'B', cPlus: true, executor: new RecordingExecutor() })).toThrow(expect.objectContaining({ code: 'BAD_OPTIONS' }) as Error);
  });

  it.skipIf(process.arch === 'arm64')('without an executor on x86: NO_KVM naming the testbed', () => {
    try {
      createEmulator({ variant: 'C' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EmuError);
      expect((e as EmuError).code).toBe('NO_KVM');
      expect((e as EmuError).message).toMatch(/testbed/);
    }
  });
});

export type { Emulator, BindingModule };
