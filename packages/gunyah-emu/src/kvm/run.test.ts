import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from './constants.js';
import { KvmError, KvmRunError } from './errors.js';
import { decodeExit, KVM_RUN_MIN_SIZE, KVM_RUN_OFFSET, KVM_RUN_STRUCT_SIZE, KvmRunView } from './run.js';

function page(fill: (d: DataView) => void, size = 4096): KvmRunView {
  const buf = new ArrayBuffer(size);
  fill(new DataView(buf));
  return new KvmRunView(buf);
}

const errCode = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof KvmRunError || e instanceof KvmError) return e.code;
    throw e;
  }
  return undefined;
};

describe('kvm_run offsets', () => {
  it('are pinned', () => {
    expect(KVM_RUN_OFFSET).toEqual({
      REQUEST_INTERRUPT_WINDOW: 0,
      IMMEDIATE_EXIT: 1,
      EXIT_REASON: 8,
      FLAGS: 14,
      EXIT_UNION: 32,
      MMIO_PHYS_ADDR: 32,
      MMIO_DATA: 40,
      MMIO_LEN: 48,
      MMIO_IS_WRITE: 52,
      HYPERCALL_NR: 32,
      HYPERCALL_ARGS: 40,
      HYPERCALL_RET: 88,
      HYPERCALL_FLAGS: 96,
      SYSTEM_EVENT_TYPE: 32,
      SYSTEM_EVENT_NDATA: 36,
      SYSTEM_EVENT_DATA: 40,
      FAIL_ENTRY_REASON: 32,
      FAIL_ENTRY_CPU: 40,
      INTERNAL_SUBERROR: 32,
      INTERNAL_NDATA: 36,
      INTERNAL_DATA: 40,
      ARM_NISV_ESR_ISS: 32,
      ARM_NISV_FAULT_IPA: 40,
      KVM_VALID_REGS: 288,
      KVM_DIRTY_REGS: 296,
      SYNC_REGS: 304,
    });
    // the exit union is 256 bytes: 32 + 256 = 288; the sync-regs union is 2048 bytes
    expect(KVM_RUN_MIN_SIZE).toBe(32 + 256 + 16);
    expect(KVM_RUN_STRUCT_SIZE).toBe(304 + 2048);
  });
});

describe('decodeExit over hand-built pages', () => {
  it('MMIO write: little-endian data of len bytes', () => {
    const run = page((d) => {
      d.setUint32(8, 6, true);
      d.setBigUint64(32, 0x0900_0010n, true);
      for (let i = 0; i < 8; i++) d.setUint8(40 + i, 0x11 * (i + 1));
      d.setUint32(48, 4, true);
      d.setUint8(52, 1);
    });
    expect(decodeExit(run)).toEqual({ kind: 'mmio', addr: 0x0900_0010n, len: 4, isWrite: true, data: 0x44332211n });
    expect(run.mmioData(8)).toBe(0x8877665544332211n);
  });

  it('MMIO read and its completion', () => {
    const run = page((d) => {
      d.setUint32(8, 6, true);
      d.setBigUint64(32, 0xffff_ffff_ffff_fff8n, true);
      d.setBigUint64(40, 0xffff_ffff_ffff_ffffn, true);
      d.setUint32(48, 2, true);
    });
    expect(decodeExit(run)).toEqual({ kind: 'mmio', addr: 0xffff_ffff_ffff_fff8n, len: 2, isWrite: false, data: 0n });
    run.setMmioData(0xbeefn);
    const d = new DataView(run.buffer);
    expect(d.getBigUint64(40, true)).toBe(0xbeefn); // upper bytes cleared
    expect(errCode(() => run.setMmioData(0x10000n))).toBe('BAD_ARGUMENT');
    expect(errCode(() => run.setMmioData(-1n))).toBe('BAD_ARGUMENT');
    expect(errCode(() => run.setMmioData(0n, 9))).toBe('BAD_MMIO_LEN');
  });

  it('system events: shutdown, reset, crash, unknown type', () => {
    const ev = (type: number, data: bigint[]): KvmRunView =>
      page((d) => {
        d.setUint32(8, 24, true);
        d.setUint32(32, type, true);
        d.setUint32(36, data.length, true);
        data.forEach((v, i) => d.setBigUint64(40 + 8 * i, v, true));
      });
    expect(decodeExit(ev(1, [0n]))).toEqual({ kind: 'system-event', event: 'shutdown', type: 1, data: [0n] });
    expect(decodeExit(ev(2, [1n]))).toEqual({ kind: 'system-event', event: 'reset', type: 2, data: [1n] });
    expect(decodeExit(ev(3, []))).toEqual({ kind: 'system-event', event: 'crash', type: 3, data: [] });
    expect(decodeExit(ev(99, new Array(16).fill(7n)))).toMatchObject({ event: 'other', type: 99, data: new Array(16).fill(7n) });
  });

  it('hypercall: function id and conduit', () => {
    const run = page((d) => {
      d.setUint32(8, 3, true);
      d.setBigUint64(32, 0x8600_ff01n, true);
      d.setBigUint64(96, 1n, true);
    });
    expect(decodeExit(run)).toEqual({ kind: 'hypercall', nr: 0x8600_ff01n, functionId: 0x8600_ff01, smc: true, flags: 1n });
  });

  it('interrupted, fail-entry, internal-error, arm-nisv, unknown', () => {
    expect(decodeExit(page((d) => d.setUint32(8, 10, true)))).toEqual({ kind: 'interrupted' });
    expect(
      decodeExit(
        page((d) => {
          d.setUint32(8, 9, true);
          d.setBigUint64(32, 0x1234n, true);
          d.setUint32(40, 3, true);
        }),
      ),
    ).toEqual({ kind: 'fail-entry', reason: 0x1234n, cpu: 3 });
    expect(
      decodeExit(
        page((d) => {
          d.setUint32(8, 17, true);
          d.setUint32(32, 1, true);
          d.setUint32(36, 2, true);
          d.setBigUint64(40, 5n, true);
          d.setBigUint64(48, 6n, true);
        }),
      ),
    ).toEqual({ kind: 'internal-error', suberror: 1, data: [5n, 6n] });
    expect(
      decodeExit(
        page((d) => {
          d.setUint32(8, 28, true);
          d.setBigUint64(32, 0x93n, true);
          d.setBigUint64(40, 0x0900_0000n, true);
        }),
      ),
    ).toEqual({ kind: 'arm-nisv', esrIss: 0x93n, faultIpa: 0x0900_0000n });
    expect(decodeExit(page((d) => d.setUint32(8, 0xffff_ffff, true)))).toEqual({ kind: 'unknown', exitReason: 0xffff_ffff });
    expect(decodeExit(page(() => {}))).toEqual({ kind: 'unknown', exitReason: KVM_EXIT.UNKNOWN });
  });

  it('hostile values give typed errors', () => {
    for (const len of [0, 9, 0xffff_ffff]) {
      const run = page((d) => {
        d.setUint32(8, 6, true);
        d.setUint32(48, len, true);
        d.setUint8(52, len % 2);
      });
      expect(errCode(() => decodeExit(run))).toBe('BAD_MMIO_LEN');
    }
    for (const reason of [24, 17]) {
      const run = page((d) => {
        d.setUint32(8, reason, true);
        d.setUint32(36, 17, true);
      });
      expect(errCode(() => decodeExit(run))).toBe('BAD_NDATA');
    }
  });

  it('refuses short and detached buffers', () => {
    expect(errCode(() => new KvmRunView(new ArrayBuffer(303)))).toBe('TRUNCATED');
    expect(errCode(() => new KvmRunView(new ArrayBuffer(0)))).toBe('DETACHED');
    const buf = new ArrayBuffer(4096);
    const run = new KvmRunView(buf);
    run.immediateExit = 5;
    expect(run.immediateExit).toBe(1);
    structuredClone(buf, { transfer: [buf] }); // detaches, like munmap
    expect(errCode(() => run.exitReason)).toBe('DETACHED');
    expect(errCode(() => (run.immediateExit = 0))).toBe('DETACHED');
    expect(errCode(() => decodeExit(run))).toBe('DETACHED');
  });
});

describe('decodeExit on random pages (fast-check)', () => {
  it('returns a known kind or throws KvmRunError, never anything else', () => {
    const kinds = new Set(['mmio', 'system-event', 'hypercall', 'interrupted', 'fail-entry', 'internal-error', 'arm-nisv', 'unknown']);
    fc.assert(
      fc.property(
        fc.constantFrom(0, 3, 6, 9, 10, 17, 24, 28, 1, 0xffff_ffff),
        fc.uint8Array({ minLength: 304, maxLength: 304 }),
        fc.nat({ max: 20 }),
        (reason, bytes, small) => {
          const buf = bytes.slice().buffer;
          const d = new DataView(buf);
          d.setUint32(8, reason, true);
          if (small % 2 === 0) {
            d.setUint32(48, small % 10, true); // mmio len around the valid range
            d.setUint32(36, small, true); // ndata around the limit
          }
          try {
            const e = decodeExit(new KvmRunView(buf));
            expect(kinds.has(e.kind)).toBe(true);
            if (e.kind === 'mmio') expect(e.len >= 1 && e.len <= 8).toBe(true);
            if (e.kind === 'system-event' || e.kind === 'internal-error') expect(e.data.length).toBeLessThanOrEqual(16);
          } catch (err) {
            expect(err).toBeInstanceOf(KvmRunError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
