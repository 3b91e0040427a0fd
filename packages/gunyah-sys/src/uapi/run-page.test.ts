import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT_REASON, VM_EXIT_TYPE, VM_STATUS } from './constants.js';
import { UapiError } from './errors.js';
import { VcpuRunPage, classifyStatus, decodeVcpuExit } from './run-page.js';

function page(): { buf: ArrayBuffer; dv: DataView } {
  const buf = new ArrayBuffer(4096);
  return { buf, dv: new DataView(buf) };
}

describe('VcpuRunPage (spec §3.14)', () => {
  it('reads MMIO fields live at their offsets, never caching', () => {
    const { buf, dv } = page();
    const p = new VcpuRunPage(buf, 'C');
    dv.setUint32(8, EXIT_REASON.MMIO, true);
    dv.setBigUint64(16, 0x0900_0000n, true);
    dv.setUint32(32, 2, true);
    dv.setUint8(36, 1);
    dv.setUint8(24, 0x34);
    dv.setUint8(25, 0x12);
    dv.setUint8(26, 0xff); // beyond len: ignored
    expect(p.exitReason).toBe(1);
    expect(p.mmioPhysAddr).toBe(0x0900_0000n);
    expect(p.mmioLen).toBe(2);
    expect(p.mmioIsWrite).toBe(true);
    expect(p.mmioData).toBe(0x1234n);
    expect(p.decode()).toEqual({ kind: 'mmio', addr: 0x0900_0000n, len: 2, isWrite: true, data: 0x1234n });
    dv.setBigUint64(16, 0x1000n, true); // the kernel rewrites the page: the view follows
    expect(p.mmioPhysAddr).toBe(0x1000n);
  });

  it('completes reads into mmio.data (len bytes, little-endian) and sets resume_action @37', () => {
    const { buf, dv } = page();
    const p = new VcpuRunPage(buf, 'B');
    dv.setUint32(8, 1, true);
    dv.setUint32(32, 4, true);
    p.setMmioData(0x1122334455n);
    expect([...new Uint8Array(buf, 24, 8)]).toEqual([0x55, 0x44, 0x33, 0x22, 0, 0, 0, 0]);
    p.mmioResumeAction = 1;
    expect(dv.getUint8(37)).toBe(1);
    p.immediateExit = 1;
    expect(dv.getUint8(0)).toBe(1);
    expect(p.mmioDataBytes.byteOffset).toBe(24);
  });

  it('A has no resume_action or page_fault (NOT_IN_VARIANT)', () => {
    const p = new VcpuRunPage(new ArrayBuffer(64), 'A');
    expect(() => p.mmioResumeAction).toThrow(expect.objectContaining({ code: 'NOT_IN_VARIANT' }));
    expect(() => (p.mmioResumeAction = 0)).toThrow(UapiError);
    expect(() => p.pageFaultPhysAddr).toThrow(expect.objectContaining({ code: 'NOT_IN_VARIANT' }));
  });

  it('status exits: fields @16..35 and crosvm classification', () => {
    const { buf, dv } = page();
    dv.setUint32(8, EXIT_REASON.STATUS, true);
    dv.setUint32(16, VM_STATUS.EXITED, true);
    dv.setUint16(20, VM_EXIT_TYPE.PSCI_SYSTEM_RESET, true);
    dv.setUint32(24, 10, true);
    new Uint8Array(buf, 28, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = new VcpuRunPage(buf, 'A');
    const e = p.decode();
    expect(e).toMatchObject({ kind: 'reset', status: 2, exitType: 2, reasonSize: 10 });
    expect(e.kind === 'reset' && [...e.reason]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(p.exitReasonBytes).toHaveLength(8);
  });

  it.each([
    [VM_STATUS.EXITED, 0, 'shutdown'],
    [VM_STATUS.EXITED, 1, 'shutdown'],
    [VM_STATUS.EXITED, 7, 'shutdown'],
    [VM_STATUS.EXITED, 2, 'reset'],
    [VM_STATUS.EXITED, 3, 'reset'],
    [VM_STATUS.EXITED, 4, 'crash'],
    [VM_STATUS.EXITED, 5, 'crash'],
    [VM_STATUS.EXITED, 6, 'crash'],
    [VM_STATUS.EXITED, 99, 'crash'],
    [VM_STATUS.CRASHED, 0, 'crash'],
    [VM_STATUS.LOAD_FAILED, 0, 'load-failed'],
    [0, 0, 'crash'],
  ] as const)('status %i type %i → %s', (status, type, kind) => {
    expect(classifyStatus(status, type)).toBe(kind);
  });

  it('page faults in B/C; unknown in A', () => {
    const { buf, dv } = page();
    dv.setUint32(8, EXIT_REASON.PAGE_FAULT, true);
    dv.setBigUint64(16, 0x8000_1000n, true);
    dv.setInt32(24, -2, true);
    dv.setUint8(28, 1);
    expect(new VcpuRunPage(buf, 'C').decode()).toEqual({ kind: 'page-fault', addr: 0x8000_1000n, attempt: -2 });
    expect(new VcpuRunPage(buf, 'B').pageFaultResumeAction).toBe(1);
    expect(new VcpuRunPage(buf, 'A').decode()).toMatchObject({ kind: 'unknown', raw: 3 });
  });

  it('hostile values decode as unknown', () => {
    const { buf, dv } = page();
    dv.setUint32(8, 0, true);
    expect(new VcpuRunPage(buf, 'C').decode()).toMatchObject({ kind: 'unknown', raw: 0 });
    dv.setUint32(8, 0xffffffff, true);
    expect(new VcpuRunPage(buf, 'C').decode()).toMatchObject({ kind: 'unknown', raw: 0xffffffff });
    dv.setUint32(8, 1, true);
    dv.setUint32(32, 9, true);
    expect(new VcpuRunPage(buf, 'C').decode()).toMatchObject({ kind: 'unknown', raw: 1 });
    dv.setUint32(32, 0, true);
    expect(new VcpuRunPage(buf, 'C').decode()).toMatchObject({ kind: 'unknown' });
  });

  it('TRUNCATED for short mappings, DETACHED after unmap', () => {
    expect(() => new VcpuRunPage(new ArrayBuffer(39), 'C')).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
    const buf = new ArrayBuffer(4096);
    const p = new VcpuRunPage(buf, 'C');
    structuredClone(buf, { transfer: [buf] });
    expect(() => p.exitReason).toThrow(expect.objectContaining({ code: 'DETACHED' }));
    expect(() => decodeVcpuExit(new DataView(new ArrayBuffer(8)), 'A')).toThrow(UapiError);
  });

  it('property: any 40 bytes decode to a known kind without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.constantFrom('A', 'B', 'C' as const), fc.nat(3), (bytes, v, reason) => {
        const b = bytes.slice();
        if (reason > 0) new DataView(b.buffer).setUint32(8, reason, true);
        const e = decodeVcpuExit(new DataView(b.buffer), v);
        expect(['mmio', 'shutdown', 'reset', 'crash', 'load-failed', 'page-fault', 'unknown']).toContain(e.kind);
        if (e.kind === 'mmio') {
          expect(e.len).toBeGreaterThanOrEqual(1);
          expect(e.len).toBeLessThanOrEqual(8);
          expect(e.data < 1n << BigInt(8 * e.len)).toBe(true);
        }
        if (e.kind === 'page-fault') expect(v).not.toBe('A');
      }),
      { numRuns: 500 },
    );
  });
});
