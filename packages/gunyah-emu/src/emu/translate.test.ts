// runEmulatedVcpu with scripted KVM ports: every branch of the VCPU_RUN translation.
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { EXIT_REASON, VCPU_RUN_OFFSETS as O, VM_STATUS, encodeMmioSink, runMmioSinkLoop, type MmioSink } from '@gunyah-ts/sys';
import { KVM_MMIO_EXIT_LAYOUT } from './executor.js';
import { KVM_RUN_OFFSET as K, type KvmExit } from '../kvm/index.js';
import { VM_PAGE_SIZE, VM_PAGE_STATUS, decodeVcpuPrivate, decodeVmPage, encodeVcpuPrivate, initVmPage, readVmSlot, setVmSlotKvmFd, setVmSlotThread, setVmStatus, type VcpuPrivate } from './pages.js';
import { runEmulatedVcpu, type KvmVcpuPort, type RunServices, type SinkArgs } from './translate.js';

// `lean`: the port also offers runLean/kvmRun (as the real one): MMIO exits are encoded into a
// kvm_run buffer and read completions land in it; the log stays the same (a completed read is
// logged when the next KVM_RUN consumes it, as the kernel would).
let lean = false;
/** When set, lean ports also offer runLeanSink (the addon's sink loop, by its TypeScript model). */
let sinkModel: MmioSink | undefined;
const SENTINEL = 0xa5;

function world(variant: 'A' | 'B' | 'C', script: KvmExit[], over: Partial<VcpuPrivate> = {}) {
  const vmPage = new DataView(new ArrayBuffer(VM_PAGE_SIZE));
  initVmPage(vmPage);
  setVmStatus(vmPage, VM_PAGE_STATUS.RUNNING);
  const page = new DataView(new ArrayBuffer(4096));
  encodeVcpuPrivate(page, { variant, cPlus: false, removed: false, unusable: false, terminal: false, vcpuId: 0, slot: 0, kvmFd: 50, vmPageFd: 7, kvmRunSize: 4096, pending: undefined, ...over });
  const log: string[] = [];
  const ports = new Map<number, KvmVcpuPort>();
  const port = (fd: number): KvmVcpuPort => {
    const base: KvmVcpuPort = {
      run: () => {
        log.push(`run ${fd}`);
        return script.shift() ?? { kind: 'interrupted' };
      },
      completeMmioRead: (v, len) => log.push(`read ${v}/${len}`),
      completeHypercall: (r) => log.push(`hvc ${r.join(',')}`),
      injectExternalAbort: () => log.push('dabt'),
      setImmediateExit: (v) => log.push(`ie ${fd}=${v}`),
    };
    if (!lean) return base;
    const kr = new DataView(new ArrayBuffer(4096));
    let readLen = 0;
    let this_: KvmVcpuPort;
    return (this_ = {
      ...base,
      completeMmioRead: () => {
        throw new Error('the lean path completes reads in kvm_run');
      },
      kvmRun: kr,
      ...(sinkModel !== undefined
        ? {
            runLeanSink: (args: SinkArgs) => {
              // the addon's loop, by its TypeScript model: runs until an exit the sink does not absorb
              expect(Array.from(args.descriptor)).toEqual(Array.from(encodeMmioSink(sinkModel as MmioSink)));
              let last: KvmExit | undefined;
              runMmioSinkLoop(
                () => {
                  last = (this_ as { runLean: () => KvmExit | undefined }).runLean();
                  return 0;
                },
                kr,
                KVM_MMIO_EXIT_LAYOUT,
                sinkModel as MmioSink,
              );
              log.push('sink loop');
              return last;
            },
          }
        : {}),
      runLean: () => {
        if (readLen > 0) {
          const bytes = Array.from({ length: 8 }, (_, i) => kr.getUint8(K.MMIO_DATA + i));
          if (bytes.some((b) => b !== SENTINEL)) {
            expect(bytes.slice(readLen).every((b) => b === 0)).toBe(true); // the rest zeroed
            log.push(`read ${kr.getBigUint64(K.MMIO_DATA, true)}/${readLen}`);
          }
          readLen = 0;
        }
        const e = base.run();
        if (e.kind !== 'mmio') {
          kr.setUint32(K.EXIT_REASON, 0, true); // not an MMIO exit any more (a sink must not see the last one)
          return e;
        }
        kr.setUint32(K.EXIT_REASON, 6, true);
        kr.setBigUint64(K.MMIO_PHYS_ADDR, e.addr, true);
        // stale bytes past the access's length, as KVM leaves them: must not leak into the exit
        kr.setBigUint64(K.MMIO_DATA, e.isWrite ? e.data | (0xeeeeeeeeeeeeeeeen << BigInt(8 * e.len)) % 2n ** 64n : 0n, true);
        kr.setUint32(K.MMIO_LEN, e.len, true);
        kr.setUint8(K.MMIO_IS_WRITE, e.isWrite ? 1 : 0);
        if (!e.isWrite) {
          readLen = e.len;
          for (let i = 0; i < 8; i++) kr.setUint8(K.MMIO_DATA + i, SENTINEL);
        }
        return undefined;
      },
    });
  };
  const s: RunServices = {
    kvm: (fd) => {
      const known = ports.get(fd);
      if (known !== undefined) return known;
      const p = port(fd);
      ports.set(fd, p);
      return p;
    },
    vmPage: (fd) => {
      if (fd !== 7) throw new Error('bad vm page fd');
      return vmPage;
    },
    currentThread: () => 77n,
    kick: (t) => log.push(`kick ${t}`),
  };
  const run = (sink?: SinkArgs) => runEmulatedVcpu(page, s, sink);
  return { page, vmPage, log, run };
}

const errnoOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'none';
};

describe.each([
  ['run()', false],
  ['runLean() + kvmRun', true],
])('runEmulatedVcpu, port with %s', (_name, useLean) => {
  beforeEach(() => {
    lean = useLean;
  });

  it('ENODEV when removed, unusable, not started, start failed or without a KVM vCPU', () => {
    expect(errnoOf(world('C', [], { removed: true }).run)).toBe('ENODEV');
    expect(errnoOf(world('C', [], { unusable: true }).run)).toBe('ENODEV');
    expect(errnoOf(world('C', [], { kvmFd: -1 }).run)).toBe('ENODEV');
    const w = world('A', []);
    setVmStatus(w.vmPage, VM_PAGE_STATUS.NOT_STARTED);
    expect(errnoOf(w.run)).toBe('ENODEV');
    setVmStatus(w.vmPage, VM_PAGE_STATUS.START_FAILED);
    expect(errnoOf(w.run)).toBe('ENODEV');
  });

  it('LOAD_FAILED and CRASHED VMs give STATUS exits, then terminal returns without rewriting', () => {
    const w = world('B', []);
    setVmStatus(w.vmPage, VM_PAGE_STATUS.LOAD_FAILED);
    expect(w.run()).toBe(0);
    expect(w.page.getUint32(O.exit_reason, true)).toBe(EXIT_REASON.STATUS);
    expect(w.page.getUint32(O.status_status, true)).toBe(VM_STATUS.LOAD_FAILED);
    w.page.setUint32(O.exit_reason, 99, true);
    expect(w.run()).toBe(0);
    expect(w.page.getUint32(O.exit_reason, true)).toBe(99);
    expect(w.log).toEqual([]);
  });

  it('A ignores resume_action (always completes); reads pass the VMM data to kvm_run', () => {
    const w = world('A', [{ kind: 'mmio', addr: 0x100n, len: 2, isWrite: false, data: 0n }]);
    w.run();
    expect(w.page.getUint8(O.mmio_resume_action)).toBe(0);
    w.page.setUint8(O.mmio_data, 0x34);
    w.page.setUint8(O.mmio_data + 1, 0x12);
    w.page.setUint8(O.mmio_data + 2, 0xff); // beyond len: ignored
    w.page.setUint8(O.mmio_resume_action, 7); // padding in A
    expect(errnoOf(w.run)).toBe('EINTR');
    expect(w.log).toContain(`read ${0x1234}/2`);
  });

  it('B accepts RETRY, rejects 3 with EINVAL and keeps the access pending', () => {
    const w = world('B', [{ kind: 'mmio', addr: 0x100n, len: 4, isWrite: true, data: 5n }]);
    w.run();
    w.page.setUint8(O.mmio_resume_action, 3);
    expect(errnoOf(w.run)).toBe('EINVAL');
    expect(decodeVcpuPrivate(w.page).pending).toMatchObject({ kind: 'write', len: 4, data: 5n });
    w.page.setUint8(O.mmio_resume_action, 2);
    expect(w.run()).toBe(0);
    expect(w.page.getBigUint64(O.mmio_phys_addr, true)).toBe(0x100n);
    expect(w.page.getUint8(O.mmio_data)).toBe(5);
  });

  it('hypercalls: Gunyah UID answered, other owners NOT_SUPPORTED; suspend events continue', () => {
    const w = world('C', [
      { kind: 'hypercall', nr: 0x8600ff01n, functionId: 0x8600ff01, smc: false, flags: 0n },
      { kind: 'hypercall', nr: 0x84000000n, functionId: 0x84000000, smc: false, flags: 0n },
      { kind: 'system-event', event: 'suspend', type: 4, data: [] },
    ]);
    expect(errnoOf(w.run)).toBe('EINTR');
    const hvc = w.log.filter((l) => l.startsWith('hvc'));
    expect(hvc).toHaveLength(2);
    expect(hvc[0]).not.toBe(`hvc ${(2n ** 64n - 1n).toString()}`);
    expect(hvc[1]).toBe(`hvc ${(2n ** 64n - 1n).toString()}`);
  });

  it('power-off stops the siblings: their kvm_run immediate_exit, then a kick of their thread', () => {
    const w = world('C', [{ kind: 'system-event', event: 'shutdown', type: 2, data: [0n] }]);
    setVmSlotKvmFd(w.vmPage, 1, 60);
    setVmSlotThread(w.vmPage, 1, 99n);
    setVmSlotKvmFd(w.vmPage, 0, 50);
    expect(w.run()).toBe(0);
    expect(w.log).toEqual(['run 50', 'ie 60=1', 'kick 99']);
    expect(decodeVmPage(w.vmPage)).toMatchObject({ status: VM_PAGE_STATUS.EXITED, exitType: 1 });
    expect(readVmSlot(w.vmPage, 0).thread).toBe(0n); // cleared after KVM_RUN
  });

  it('fail-entry, internal errors and unknown exits crash the VM (STATUS CRASHED)', () => {
    for (const e of [
      { kind: 'fail-entry', reason: 1n, cpu: 0 },
      { kind: 'arm-nisv', esrIss: 0n, faultIpa: 0n },
      { kind: 'unknown', exitReason: 77 },
      { kind: 'system-event', event: 'crash', type: 3, data: [] },
    ] as KvmExit[]) {
      const w = world('C', [e]);
      expect(w.run()).toBe(0);
      expect(w.page.getUint32(O.status_status, true)).toBe(VM_STATUS.CRASHED);
    }
  });

  it('a sibling stop seen after a kick gives STATUS instead of EINTR', () => {
    const w = world('A', []);
    const vm = w.vmPage;
    const orig = w.run;
    // the kick arrives while "in KVM_RUN": the scripted port returns interrupted, the VM page says exited
    setVmStatus(vm, VM_PAGE_STATUS.RUNNING);
    const s2 = world('A', [{ kind: 'interrupted' }]);
    s2.vmPage.setUint8(6, VM_PAGE_STATUS.RUNNING);
    const run = () => {
      const r = s2.run();
      return r;
    };
    // mark exited from "another thread" between entry and exit: emulate by pre-marking after the first check
    s2.vmPage.setUint8(6, VM_PAGE_STATUS.EXITED);
    expect(run()).toBe(0);
    expect(s2.page.getUint32(O.status_status, true)).toBe(VM_STATUS.EXITED);
    void orig;
  });
});

describe('runLean (allocation-free MMIO path) against run()', () => {
  it('writes byte-identical run pages and private areas for any MMIO exit, and completes reads alike (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('A' as const, 'B' as const, 'C' as const),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (variant, addr, len, isWrite, raw, answer) => {
          const data = isWrite ? raw % 2n ** BigInt(8 * len) : 0n;
          const pages: Uint8Array[] = [];
          const logs: string[][] = [];
          for (const useLean of [false, true]) {
            lean = useLean;
            const w = world(variant, [{ kind: 'mmio', addr, len, isWrite, data }]);
            expect(w.run()).toBe(0);
            pages.push(new Uint8Array(w.page.buffer.slice(0)));
            // the VMM answers a read; the next run completes it
            if (!isWrite) w.page.setBigUint64(O.mmio_data, answer, true);
            expect(errnoOf(w.run)).toBe('EINTR');
            logs.push(w.log);
          }
          lean = false;
          expect(pages[1]).toEqual(pages[0]);
          expect(logs[1]).toEqual(logs[0]);
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000); // ~1 s alone; CI runs the packages' tests side by side

  it('a faulted read is not completed in kvm_run (FAULT → external abort only)', () => {
    lean = true;
    const w = world('C', [{ kind: 'mmio', addr: 0x100n, len: 4, isWrite: false, data: 0n }]);
    w.run();
    w.page.setUint8(O.mmio_resume_action, 1); // FAULT
    expect(errnoOf(w.run)).toBe('EINTR');
    lean = false;
    expect(w.log).toEqual(['run 50', 'dabt', 'run 50', 'ie 50=0']);
  });
});

describe('runEmulatedVcpu with an MMIO write sink (runLeanSink)', () => {
  const w8 = (addr: bigint, v: number): KvmExit => ({ kind: 'mmio', addr, len: 1, isWrite: true, data: BigInt(v) });
  /** Runs `body` with lean ports that have runLeanSink over a fresh sink (one byte already batched). */
  const withSink = (body: (sink: MmioSink, args: SinkArgs) => void): void => {
    const state = new Int32Array(new SharedArrayBuffer(16));
    state[1] = 1;
    const sink: MmioSink = { addr: 0x3f8n, state, bytes: new Uint8Array(new SharedArrayBuffer(16)), lockWord: 0, lenWord: 1, minLen: 1, capacity: 16 };
    lean = true;
    sinkModel = sink;
    try {
      body(sink, { descriptor: encodeMmioSink(sink), state: sink.state, bytes: sink.bytes });
    } finally {
      sinkModel = undefined;
      lean = false;
    }
  };

  it('serves absorbed writes inside the loop and translates the first exit it hands back', () =>
    withSink((sink, args) => {
      const w = world('C', [w8(0x3f8n, 0x61), w8(0x3f8n, 0x62), w8(0x3fdn, 0x63), w8(0x3f8n, 0x64)]);
      expect(w.run(args)).toBe(0);
      expect([sink.state[1], sink.bytes[1], sink.bytes[2]]).toEqual([3, 0x61, 0x62]);
      // the Gunyah run page and the pending access are those of the write to 0x3fd
      expect(w.page.getUint32(O.exit_reason, true)).toBe(EXIT_REASON.MMIO);
      expect(w.page.getBigUint64(O.mmio_phys_addr, true)).toBe(0x3fdn);
      expect(decodeVcpuPrivate(w.page).pending).toMatchObject({ kind: 'write', addr: 0x3fdn, data: 0x63n });
      expect(w.log).toEqual(['run 50', 'run 50', 'run 50', 'sink loop']);
      // the next run completes it and goes on: the write to 0x3f8 is absorbed, then the script ends (EINTR)
      expect(errnoOf(() => w.run(args))).toBe('EINTR');
      expect(sink.state[1]).toBe(4);
    }));

  it('without a sink argument the same port runs as before (every exit handed back)', () =>
    withSink((sink) => {
      const w = world('B', [w8(0x3f8n, 0x61), w8(0x3f8n, 0x62)]);
      expect(w.run()).toBe(0);
      expect(w.page.getBigUint64(O.mmio_data, true)).toBe(0x61n);
      expect(sink.state[1]).toBe(1);
      expect(w.log).toEqual(['run 50']);
    }));

  it('a stop (interrupted KVM_RUN) inside the sink loop reports EINTR, a stopped VM its STATUS', () =>
    withSink((_sink, args) => {
      const w = world('A', [w8(0x3f8n, 0x61), { kind: 'interrupted' }]);
      expect(errnoOf(() => w.run(args))).toBe('EINTR');
      expect(w.log).toEqual(['run 50', 'run 50', 'sink loop', 'ie 50=0']);
      const w2 = world('C', [w8(0x3f8n, 0x61), { kind: 'system-event', event: 'shutdown', type: 2, data: [0n] }]);
      expect(w2.run(args)).toBe(0);
      expect(w2.page.getUint32(O.status_status, true)).toBe(VM_STATUS.EXITED);
    }));
});
