// The vCPU private area and VM page codecs: round trips, every rejected field, fuzzing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmuError } from './errors.js';
import {
  PRIVATE_OFFSET,
  VM_PAGE_MAX_VCPUS,
  VM_PAGE_SIZE,
  VM_PAGE_STATUS,
  decodeVcpuPrivate,
  decodeVmPage,
  encodeVcpuPrivate,
  hasVcpuMagic,
  initVmPage,
  markVmStopped,
  readVmSlot,
  setPending,
  setVcpuFlag,
  setVcpuKvm,
  setVmReported,
  setVmSlotKvmFd,
  setVmSlotThread,
  type VcpuPrivate,
} from './pages.js';

const base: VcpuPrivate = {
  variant: 'C',
  cPlus: false,
  removed: false,
  unusable: false,
  terminal: false,
  vcpuId: 3,
  slot: 2,
  kvmFd: -1,
  vmPageFd: 17,
  kvmRunSize: 0,
  pending: undefined,
};

const page = () => new DataView(new ArrayBuffer(4096));
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EmuError);
    return (e as EmuError).code;
  }
  return 'none';
};

describe('vCPU private area', () => {
  it('round-trips and leaves the run page (bytes 0–39) alone', () => {
    const p = page();
    for (let i = 0; i < 40; i++) p.setUint8(i, 0xa5);
    const v: VcpuPrivate = { ...base, variant: 'C', cPlus: true, kvmFd: 9, kvmRunSize: 8192, pending: { kind: 'write', len: 4, addr: 0x900_0000n, data: 0xdeadn } };
    encodeVcpuPrivate(p, v);
    expect(decodeVcpuPrivate(p)).toEqual(v);
    for (let i = 0; i < 40; i++) expect(p.getUint8(i)).toBe(0xa5);
    expect(hasVcpuMagic(p)).toBe(true);
  });

  it('updates flags, KVM fd and pending access in place', () => {
    const p = page();
    encodeVcpuPrivate(p, base);
    setVcpuFlag(p, 'removed', true);
    setVcpuFlag(p, 'terminal', true);
    setVcpuFlag(p, 'terminal', false);
    setVcpuKvm(p, 12, 4096);
    setPending(p, { kind: 'read', len: 8, addr: 5n, data: 0n });
    expect(decodeVcpuPrivate(p)).toMatchObject({ removed: true, terminal: false, kvmFd: 12, kvmRunSize: 4096, pending: { kind: 'read', len: 8, addr: 5n } });
    setPending(p, undefined);
    expect(decodeVcpuPrivate(p).pending).toBeUndefined();
    expect(code(() => setPending(p, { kind: 'read', len: 9, addr: 0n, data: 0n }))).toBe('BAD_PAGE');
  });

  it('rejects every malformed field with BAD_PAGE', () => {
    const o = PRIVATE_OFFSET;
    const cases: [string, (p: DataView) => void][] = [
      ['magic', (p) => p.setUint32(o, 0, true)],
      ['version', (p) => p.setUint16(o + 4, 2, true)],
      ['variant', (p) => p.setUint8(o + 6, 3)],
      ['flags', (p) => p.setUint8(o + 7, 0x10)],
      ['cplus on A', (p) => (p.setUint8(o + 6, 0), p.setUint8(o + 7, 8))],
      ['slot', (p) => p.setUint32(o + 12, VM_PAGE_MAX_VCPUS, true)],
      ['kvm fd', (p) => p.setInt32(o + 16, -2, true)],
      ['vm page fd', (p) => p.setInt32(o + 20, -1, true)],
      ['run size', (p) => p.setUint32(o + 24, 0xffff_ffff, true)],
      ['pending kind', (p) => p.setUint8(o + 28, 3)],
      ['pending len 0', (p) => (p.setUint8(o + 28, 1), p.setUint8(o + 29, 0))],
      ['pending len 9', (p) => (p.setUint8(o + 28, 2), p.setUint8(o + 29, 9))],
      ['len without access', (p) => p.setUint8(o + 29, 4)],
      ['reserved', (p) => p.setUint16(o + 30, 1, true)],
    ];
    for (const [what, mutate] of cases) {
      const p = page();
      encodeVcpuPrivate(p, base);
      mutate(p);
      expect([what, code(() => decodeVcpuPrivate(p))]).toEqual([what, 'BAD_PAGE']);
    }
    expect(code(() => decodeVcpuPrivate(new DataView(new ArrayBuffer(100))))).toBe('BAD_PAGE');
    expect(hasVcpuMagic(new DataView(new ArrayBuffer(100)))).toBe(false);
    expect(code(() => encodeVcpuPrivate(new DataView(new ArrayBuffer(100)), base))).toBe('BAD_PAGE');
    expect(code(() => encodeVcpuPrivate(page(), { ...base, slot: -1 }))).toBe('BAD_PAGE');
    expect(code(() => encodeVcpuPrivate(page(), { ...base, vcpuId: 2 ** 32 }))).toBe('BAD_PAGE');
  });

  it('fuzz: random bytes decode to a value or BAD_PAGE, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), fc.boolean(), (bytes, withMagic) => {
        const p = new DataView(new ArrayBuffer(Math.max(bytes.length, 1)));
        new Uint8Array(p.buffer).set(bytes);
        if (withMagic && p.byteLength >= PRIVATE_OFFSET + 8) {
          p.setUint32(PRIVATE_OFFSET, 0x5655_4d45, true);
          p.setUint16(PRIVATE_OFFSET + 4, 1, true);
        }
        try {
          const v = decodeVcpuPrivate(p);
          const q = page();
          encodeVcpuPrivate(q, v);
          expect(decodeVcpuPrivate(q)).toEqual(v);
        } catch (e) {
          expect(e).toBeInstanceOf(EmuError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('fuzz: every valid private area round-trips', () => {
    const arb = fc.record({
      variant: fc.constantFrom('A' as const, 'B' as const, 'C' as const),
      cPlus: fc.boolean(),
      removed: fc.boolean(),
      unusable: fc.boolean(),
      terminal: fc.boolean(),
      vcpuId: fc.nat({ max: 0xffff_ffff }),
      slot: fc.nat({ max: VM_PAGE_MAX_VCPUS - 1 }),
      kvmFd: fc.integer({ min: -1, max: 0x7fff_ffff }),
      vmPageFd: fc.nat({ max: 0x7fff_ffff }),
      kvmRunSize: fc.nat({ max: 1 << 24 }),
      pending: fc.option(
        fc.record({ kind: fc.constantFrom('read' as const, 'write' as const), len: fc.integer({ min: 1, max: 8 }), addr: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), data: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(arb, (v0) => {
        const v = { ...v0, cPlus: v0.cPlus && v0.variant === 'C' };
        const p = page();
        encodeVcpuPrivate(p, v);
        expect(decodeVcpuPrivate(p)).toEqual(v);
      }),
    );
  });
});

describe('VM page', () => {
  it('starts NOT_STARTED with empty slots; first stop wins; slots hold thread and KVM fd', () => {
    const p = new DataView(new ArrayBuffer(VM_PAGE_SIZE));
    initVmPage(p);
    expect(decodeVmPage(p)).toMatchObject({ status: VM_PAGE_STATUS.NOT_STARTED, reported: false });
    expect(readVmSlot(p, 5)).toEqual({ thread: 0n, kvmFd: -1 });
    setVmSlotThread(p, 5, 0x1234n);
    setVmSlotKvmFd(p, 5, 40);
    expect(readVmSlot(p, 5)).toEqual({ thread: 0x1234n, kvmFd: 40 });
    expect(markVmStopped(p, 2, 1, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(markVmStopped(p, 3, 5)).toBe(false);
    setVmReported(p);
    const s = decodeVmPage(p);
    expect(s).toMatchObject({ status: VM_PAGE_STATUS.EXITED, exitType: 1, reasonSize: 3, reported: true });
    expect([...s.reason]).toEqual([1, 2, 3]);
  });

  it('rejects malformed pages; fuzz gives a value or BAD_PAGE', () => {
    const p = new DataView(new ArrayBuffer(VM_PAGE_SIZE));
    initVmPage(p);
    p.setUint8(6, 9);
    expect(code(() => decodeVmPage(p))).toBe('BAD_PAGE');
    initVmPage(p);
    p.setUint8(7, 2);
    expect(code(() => decodeVmPage(p))).toBe('BAD_PAGE');
    expect(code(() => decodeVmPage(new DataView(new ArrayBuffer(16))))).toBe('BAD_PAGE');
    expect(code(() => initVmPage(new DataView(new ArrayBuffer(16))))).toBe('BAD_PAGE');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (head) => {
        const q = new DataView(new ArrayBuffer(VM_PAGE_SIZE));
        initVmPage(q);
        new Uint8Array(q.buffer).set(head);
        try {
          const s = decodeVmPage(q);
          expect(s.reason.length).toBeLessThanOrEqual(8);
        } catch (e) {
          expect(e).toBeInstanceOf(EmuError);
        }
      }),
    );
  });
});
