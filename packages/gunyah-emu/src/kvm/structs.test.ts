import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvmError } from './errors.js';
import {
  CreateDeviceCodec,
  DeviceAttrCodec,
  IoeventfdCodec,
  IrqfdCodec,
  OneRegCodec,
  SmcccFilterCodec,
  UserspaceMemoryRegionCodec,
  VcpuInitCodec,
} from './structs.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('struct layouts (every offset pinned by distinct byte patterns)', () => {
  it('kvm_userspace_memory_region', () => {
    const b = UserspaceMemoryRegionCodec.encode({
      slot: 0x04030201,
      flags: 0x08070605,
      guestPhysAddr: 0x100f0e0d0c0b0a09n,
      memorySize: 0x1817161514131211n,
      userspaceAddr: 0x201f1e1d1c1b1a19n,
    });
    expect(b.length).toBe(32);
    expect(hex(b)).toBe(Array.from({ length: 32 }, (_, i) => (i + 1).toString(16).padStart(2, '0')).join(''));
  });

  it('kvm_irqfd', () => {
    const b = IrqfdCodec.encode({ fd: 0x04030201, gsi: 0x08070605, flags: 0x0c0b0a09, resamplefd: 0x100f0e0d });
    expect(b.length).toBe(32);
    expect(hex(b)).toBe('0102030405060708090a0b0c0d0e0f10' + '00'.repeat(16));
  });

  it('kvm_ioeventfd', () => {
    const b = IoeventfdCodec.encode({ datamatch: 0x0807060504030201n, addr: 0x100f0e0d0c0b0a09n, len: 0x14131211, fd: 0x18171615, flags: 0x1c1b1a19 });
    expect(b.length).toBe(64);
    expect(hex(b)).toBe('0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c' + '00'.repeat(36));
    expect(IoeventfdCodec.decode(IoeventfdCodec.encode({ datamatch: 0n, addr: 0n, len: 0, fd: -1, flags: 0 })).fd).toBe(-1);
  });

  it('kvm_one_reg', () => {
    const b = OneRegCodec.encode({ id: 0x6030000000100040n, addr: 0x1122334455667788n });
    expect(hex(b)).toBe('4000100000003060' + '8877665544332211');
    expect(OneRegCodec.addrOffset).toBe(8);
  });

  it('kvm_vcpu_init', () => {
    const b = VcpuInitCodec.encode({ target: 5, features: [0b101, 0, 0, 0, 0, 0, 0x80000000] });
    expect(b.length).toBe(32);
    expect(hex(b)).toBe('05000000' + '05000000' + '00000000'.repeat(5) + '00000080');
    expect(VcpuInitCodec.decode(VcpuInitCodec.encode({ target: 1, features: [4] })).features).toEqual([4, 0, 0, 0, 0, 0, 0]);
  });

  it('kvm_create_device', () => {
    expect(hex(CreateDeviceCodec.encode({ type: 7, fd: 0x01020304, flags: 1 }))).toBe('07000000' + '04030201' + '01000000');
  });

  it('kvm_device_attr', () => {
    const b = DeviceAttrCodec.encode({ flags: 0x04030201, group: 0x08070605, attr: 0x100f0e0d0c0b0a09n, addr: 0x1817161514131211n });
    expect(b.length).toBe(24);
    expect(hex(b)).toBe(Array.from({ length: 24 }, (_, i) => (i + 1).toString(16).padStart(2, '0')).join(''));
    expect(DeviceAttrCodec.addrOffset).toBe(16);
  });

  it('kvm_smccc_filter', () => {
    const b = SmcccFilterCodec.encode({ base: 0x86000000, nrFunctions: 0x10000, action: 2 });
    expect(b.length).toBe(24);
    expect(hex(b)).toBe('00000086' + '00000100' + '02' + '00'.repeat(15));
  });
});

describe('struct validation', () => {
  const codeOf = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      if (e instanceof KvmError) return e.code;
      throw e;
    }
    return undefined;
  };

  it('rejects out-of-range fields and short buffers with BAD_ARGUMENT', () => {
    expect(codeOf(() => IrqfdCodec.encode({ fd: -1, gsi: 0, flags: 0, resamplefd: 0 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => IrqfdCodec.encode({ fd: 1.5, gsi: 0, flags: 0, resamplefd: 0 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => OneRegCodec.encode({ id: -1n, addr: 0n }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => OneRegCodec.encode({ id: 1n << 64n, addr: 0n }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => IoeventfdCodec.encode({ datamatch: 0n, addr: 0n, len: 0, fd: 2 ** 31, flags: 0 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => SmcccFilterCodec.encode({ base: 0, nrFunctions: 1, action: 256 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => VcpuInitCodec.encode({ target: 0, features: [0, 0, 0, 0, 0, 0, 0, 0] }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => DeviceAttrCodec.decode(new Uint8Array(23)))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => IoeventfdCodec.decode(new Uint8Array(63)))).toBe('BAD_ARGUMENT');
  });

  it('decoders read from a subarray offset', () => {
    const inner = IrqfdCodec.encode({ fd: 3, gsi: 4, flags: 1, resamplefd: 0 });
    const outer = new Uint8Array(40);
    outer.set(inner, 8);
    expect(IrqfdCodec.decode(outer.subarray(8))).toEqual({ fd: 3, gsi: 4, flags: 1, resamplefd: 0 });
  });
});

describe('round trips and random bytes (fast-check)', () => {
  it('every codec round-trips its value', () => {
    fc.assert(
      fc.property(u32, u32, u64, u64, u64, (a, bb, x, y, z) => {
        const r = { slot: a, flags: bb, guestPhysAddr: x, memorySize: y, userspaceAddr: z };
        expect(UserspaceMemoryRegionCodec.decode(UserspaceMemoryRegionCodec.encode(r))).toEqual(r);
        const d = { flags: a, group: bb, attr: x, addr: y };
        expect(DeviceAttrCodec.decode(DeviceAttrCodec.encode(d))).toEqual(d);
        const o = { id: x, addr: z };
        expect(OneRegCodec.decode(OneRegCodec.encode(o))).toEqual(o);
        const f = { base: a, nrFunctions: bb, action: a & 0xff };
        expect(SmcccFilterCodec.decode(SmcccFilterCodec.encode(f))).toEqual(f);
      }),
    );
  });

  it('decoders give a value or KvmError for any bytes', () => {
    const codecs = [UserspaceMemoryRegionCodec, IrqfdCodec, IoeventfdCodec, OneRegCodec, VcpuInitCodec, CreateDeviceCodec, DeviceAttrCodec, SmcccFilterCodec];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        for (const c of codecs) {
          try {
            const v = c.decode(bytes);
            expect(bytes.length).toBeGreaterThanOrEqual(c.size);
            expect(typeof v).toBe('object');
          } catch (e) {
            expect(e).toBeInstanceOf(KvmError);
            expect(bytes.length).toBeLessThan(c.size);
          }
        }
      }),
    );
  });
});
