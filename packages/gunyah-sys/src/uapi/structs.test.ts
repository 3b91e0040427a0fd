import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UapiError } from './errors.js';
import {
  AddressRange,
  AuthDesc,
  CreateMemArgs,
  FnDesc,
  FnIoeventfdArg,
  FnIrqfdArg,
  FnVcpuArg,
  MapCmaMemArgs,
  MapMemArgs,
  QtvmAuthArg,
  STRUCT_CODECS,
  UserspaceMemoryRegion,
  VmBootContext,
  VmDtbConfig,
  VmExitInfo,
  VmFirmwareConfig,
  bootContextReg,
} from './structs.js';

const hex = (dv: DataView): string => Buffer.from(dv.buffer, dv.byteOffset, dv.byteLength).toString('hex');

// Golden bytes: each value is distinct so a field at the wrong offset shows. Offsets from spec §3.
describe('byte-exact encodings (spec §3)', () => {
  it('gunyah_userspace_memory_region (§3.1, 32 bytes)', () => {
    const v = { label: 0x11223344, flags: 7, guestPhysAddr: 0x8000_0000n, memorySize: 0x20_0000n, userspaceAddr: 0x7f12_3456_7000n };
    const dv = UserspaceMemoryRegion.encode(v);
    expect(hex(dv)).toBe(
      '44332211' + // @0 label
        '07000000' + // @4 flags
        '0000008000000000' + // @8 guest_phys_addr
        '0000200000000000' + // @16 memory_size
        '0070563412' + '7f0000', // @24 userspace_addr
    );
    expect(UserspaceMemoryRegion.decode(dv)).toEqual(v);
  });

  it.each([VmDtbConfig, VmFirmwareConfig, AddressRange])('%s (16 bytes: gpa @0, size @8)', (c) => {
    const dv = c.encode({ guestPhysAddr: 0x0102030405060708n, size: 0x1000 });
    expect(hex(dv)).toBe('0807060504030201' + '0010000000000000');
    expect(c.decode(dv)).toEqual({ guestPhysAddr: 0x0102030405060708n, size: 0x1000n });
  });

  it.each([FnDesc, AuthDesc])('%s (16 bytes: type @0, arg_size @4, arg @8)', (c) => {
    const dv = c.encode({ type: 3, argSize: 32, arg: 0xdead_beef_0000n });
    expect(hex(dv)).toBe('03000000' + '20000000' + '0000efbeadde0000');
    expect(c.decode(dv)).toEqual({ type: 3, argSize: 32, arg: 0xdead_beef_0000n });
  });

  it('gunyah_fn_vcpu_arg (§3.6, 4 bytes)', () => {
    expect(hex(FnVcpuArg.encode({ id: 0x0a0b0c0d }))).toBe('0d0c0b0a');
  });

  it('gunyah_fn_irqfd_arg (§3.7, 16 bytes, padding zero)', () => {
    const dv = FnIrqfdArg.encode({ fd: 9, label: 0x42, flags: 1 });
    expect(hex(dv)).toBe('09000000' + '42000000' + '01000000' + '00000000');
    expect(FnIrqfdArg.decode(dv)).toEqual({ fd: 9, label: 0x42, flags: 1 });
  });

  it('gunyah_fn_ioeventfd_arg (§3.8, 32 bytes, signed fd)', () => {
    const v = { datamatch: 0x1122n, addr: 0x0900_0000n, len: 4, fd: -1, flags: 1 };
    const dv = FnIoeventfdArg.encode(v);
    expect(hex(dv)).toBe('2211000000000000' + '0000000900000000' + '04000000' + 'ffffffff' + '01000000' + '00000000');
    expect(FnIoeventfdArg.decode(dv)).toEqual(v);
  });

  it('gunyah_create_mem_args (§3.9, 64 bytes, reserved zero)', () => {
    const dv = CreateMemArgs.encode({ flags: 3, size: 0x10000 });
    expect(hex(dv)).toBe('0300000000000000' + '0000010000000000' + '00'.repeat(48));
  });

  it('gunyah_map_mem_args (§3.10, 32 bytes)', () => {
    const v = { guestAddr: 0x8000_0000n, flags: 0x71, guestMemFd: 6, offset: 0x2000n, size: 0x4000n };
    const dv = MapMemArgs.encode(v);
    expect(hex(dv)).toBe('0000008000000000' + '71000000' + '06000000' + '0020000000000000' + '0040000000000000');
    expect(MapMemArgs.decode(dv)).toEqual(v);
  });

  it('gunyah_vm_boot_context (§3.11, 16 bytes) and the reg word', () => {
    expect(bootContextReg(1, 0)).toBe(0x100);
    expect(bootContextReg(2, 2)).toBe(0x202);
    const dv = VmBootContext.encode({ reg: bootContextReg(0, 31), value: 0x8010_0000n });
    expect(hex(dv)).toBe('1f000000' + '00000000' + '0000108000000000');
    expect(() => bootContextReg(256, 0)).toThrow(UapiError);
  });

  it('gunyah_map_cma_mem_args (§3.12, 40 bytes, pad @4)', () => {
    const v = { label: 5, guestAddr: 0x9000_0000n, flags: 0x17, guestMemFd: 12, offset: 0n, size: 0x10_0000n };
    const dv = MapCmaMemArgs.encode(v);
    expect(hex(dv)).toBe('05000000' + '00000000' + '0000009000000000' + '17000000' + '0c000000' + '0000000000000000' + '0000100000000000');
    expect(MapCmaMemArgs.decode(dv)).toEqual(v);
  });

  it('gunyah_qtvm_auth_arg (§3.12, 24 bytes, u16 vm_id, pad @2)', () => {
    const v = { vmId: 0x2d, peripheralId: 0x1c, guestPhysAddr: 0xe000_0000n, size: 0x40_0000n };
    const dv = QtvmAuthArg.encode(v);
    expect(hex(dv)).toBe('2d00' + '0000' + '1c000000' + '000000e000000000' + '0000400000000000');
    expect(QtvmAuthArg.decode(dv)).toEqual(v);
  });

  it('gunyah_vm_exit_info (§3.13, 16 bytes; reason copied up to 8 bytes)', () => {
    const dv = VmExitInfo.encode({ type: 4, reasonSize: 12, reason: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) });
    expect(hex(dv)).toBe('0400' + '0000' + '0c000000' + '0102030405060708');
    const d = VmExitInfo.decode(dv);
    expect(d.reasonSize).toBe(12);
    expect([...d.reason]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const short = VmExitInfo.decode(VmExitInfo.encode({ type: 0, reasonSize: 2, reason: new Uint8Array([9, 9]) }));
    expect([...short.reason]).toEqual([9, 9]);
  });

  it('encodes into a caller buffer, zeroing padding, and decodes at an offset', () => {
    const buf = new Uint8Array(48).fill(0xaa);
    FnIrqfdArg.encode({ fd: 1, label: 2, flags: 0 }, new DataView(buf.buffer, 8, 16));
    expect(buf[8 + 12]).toBe(0); // padding zeroed
    expect(buf[0]).toBe(0xaa);
    expect(FnIrqfdArg.decode(buf, 8)).toEqual({ fd: 1, label: 2, flags: 0 });
  });
});

describe('typed errors', () => {
  it('rejects out-of-range fields', () => {
    const bad: [() => unknown, string][] = [
      [() => FnVcpuArg.encode({ id: -1 }), 'id'],
      [() => FnVcpuArg.encode({ id: 2 ** 32 }), 'id'],
      [() => FnVcpuArg.encode({ id: 1.5 }), 'id'],
      [() => VmDtbConfig.encode({ guestPhysAddr: -1n, size: 0 }), 'guest_phys_addr'],
      [() => VmDtbConfig.encode({ guestPhysAddr: 1n << 64n, size: 0 }), 'guest_phys_addr'],
      [() => VmDtbConfig.encode({ guestPhysAddr: 0, size: Number.MAX_SAFE_INTEGER + 1 }), 'size'],
      [() => FnIoeventfdArg.encode({ datamatch: 0, addr: 0, len: 0, fd: 2 ** 31, flags: 0 }), 'fd'],
      [() => QtvmAuthArg.encode({ vmId: 0x10000, peripheralId: 0, guestPhysAddr: 0, size: 0 }), 'vm_id'],
    ];
    for (const [fn, field] of bad) {
      try {
        fn();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(UapiError);
        expect((e as UapiError).code).toBe('FIELD_OUT_OF_RANGE');
        expect((e as UapiError).field).toBe(field);
      }
    }
  });

  it('TRUNCATED for short inputs and outputs, DETACHED for detached buffers', () => {
    expect(() => FnDesc.decode(new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
    expect(() => FnDesc.decode(new Uint8Array(16), 1)).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
    expect(() => FnDesc.encode({ type: 1, argSize: 4, arg: 0 }, new DataView(new ArrayBuffer(8)))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED' }),
    );
    const ab = new ArrayBuffer(16);
    structuredClone(ab, { transfer: [ab] });
    expect(() => FnDesc.decode(ab)).toThrow(UapiError);
  });
});

describe('properties (fast-check)', () => {
  it('every codec decodes any bytes of its size, and decode∘encode∘decode is stable', () => {
    for (const c of Object.values(STRUCT_CODECS)) {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: c.size, maxLength: c.size + 8 }), fc.nat(8), (bytes, off) => {
          const o = Math.min(off, bytes.length - c.size);
          const v = c.decode(bytes, o);
          const again = c.decode(c.encode(v as never));
          expect(again).toEqual(v);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('any input length gives a value or a typed error', () => {
    for (const c of Object.values(STRUCT_CODECS)) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -4, max: 90 }), (bytes, off) => {
          try {
            c.decode(bytes, off);
          } catch (e) {
            expect(e).toBeInstanceOf(UapiError);
          }
        }),
        { numRuns: 100 },
      );
    }
  });

  it('memory regions round-trip for any field values', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (label, flags, a, b, c) => {
        const v = { label, flags, guestPhysAddr: a, memorySize: b, userspaceAddr: c };
        expect(UserspaceMemoryRegion.decode(UserspaceMemoryRegion.encode(v))).toEqual(v);
      }),
    );
  });
});
