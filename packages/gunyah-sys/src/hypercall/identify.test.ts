import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { HypercallError } from './errors.js';
import {
  API_FLAGS0_FEATURE_BIT,
  API_FLAGS0_QCOM_ROOT_VM_CHANNEL_BIT,
  DEFAULT_IDENTIFY_RESULT,
  GUNYAH_API_VERSION,
  GUNYAH_UID_REGISTERS,
  GUNYAH_UUID,
  HYP_VARIANT,
  LINUX_REQUIRED_FEATURES,
  QCOM_GUNYAH_UUID,
  QCOM_UID_REGISTERS,
  QCOM_UID_REGISTERS_SWAPPED,
  SCHEDULER_VARIANT,
  answerGunyahSmcccCall,
  classifyUid,
  decodeApiFlags0,
  decodeApiFlags1,
  decodeHypApiInfo,
  decodeIdentifyResult,
  detectGunyah,
  detectGunyahAsync,
  encodeApiFlags0,
  encodeApiFlags1,
  encodeHypApiInfo,
  encodeIdentifyResult,
  formatUuid,
  parseUuid,
  uidBytesToRegisters,
  uidRegistersToBytes,
  type SmcccCall,
} from './identify.js';

const code = (c: string) => expect.objectContaining({ name: 'HypercallError', code: c });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const NOT_SUPPORTED = 2n ** 64n - 1n;
const hex = (s: string) => Uint8Array.from(s.split(' '), (b) => Number.parseInt(b, 16));

describe('vendor-hyp UID (§2.1)', () => {
  it('constants are the spec values', () => {
    expect(GUNYAH_UUID).toBe('c1d58fcd-a453-5fdb-9265-ce36673d5f14');
    expect(QCOM_GUNYAH_UUID).toBe('19bd54bd-0b37-571b-946f-609b54539de6');
    expect(GUNYAH_UID_REGISTERS).toEqual([0xcd8fd5c1n, 0xdb5f53a4n, 0x36ce6592n, 0x145f3d67n]);
    expect(QCOM_UID_REGISTERS).toEqual([0xbd54bd19n, 0x1b57370bn, 0x9b606f94n, 0xe69d5354n]);
    expect(QCOM_UID_REGISTERS_SWAPPED).toEqual([0x19bd54bdn, 0x0b37571bn, 0x946f609bn, 0x54539de6n]);
  });

  it('registers → bytes the Linux way (little-endian low words)', () => {
    expect(uidRegistersToBytes(GUNYAH_UID_REGISTERS)).toEqual(hex('c1 d5 8f cd a4 53 5f db 92 65 ce 36 67 3d 5f 14'));
    expect(formatUuid(uidRegistersToBytes(GUNYAH_UID_REGISTERS))).toBe(GUNYAH_UUID);
    expect(formatUuid(uidRegistersToBytes(QCOM_UID_REGISTERS))).toBe(QCOM_GUNYAH_UUID);
    expect(uidBytesToRegisters(parseUuid(GUNYAH_UUID))).toEqual(GUNYAH_UID_REGISTERS);
    // upper 32 bits are ignored
    expect(uidRegistersToBytes(GUNYAH_UID_REGISTERS.map((r) => r | (0xffffn << 40n)))).toEqual(parseUuid(GUNYAH_UUID));
  });

  it('UUID parse/format', () => {
    expect(parseUuid('C1D58FCD-A453-5FDB-9265-CE36673D5F14')).toEqual(parseUuid(GUNYAH_UUID));
    for (const bad of ['', 'c1d58fcd-a453-5fdb-9265-ce36673d5f1', 'c1d58fcda4535fdb9265ce36673d5f14', 'g1d58fcd-a453-5fdb-9265-ce36673d5f14', ` ${GUNYAH_UUID}`]) {
      expect(() => parseUuid(bad)).toThrow(code('BAD_UUID'));
    }
    expect(() => parseUuid(5 as unknown as string)).toThrow(code('BAD_UUID'));
    expect(() => formatUuid(new Uint8Array(15))).toThrow(code('BAD_LENGTH'));
    expect(() => uidBytesToRegisters(new Uint8Array(17))).toThrow(code('BAD_LENGTH'));
    expect(() => uidRegistersToBytes([1n, 2n, 3n])).toThrow(code('BAD_LENGTH'));
    expect(() => uidRegistersToBytes([1n, 2n, 3n, -1n])).toThrow(code('NOT_U64'));
  });

  it('round-trips bytes ↔ registers ↔ UUID strings (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect(uidRegistersToBytes(uidBytesToRegisters(bytes))).toEqual(bytes);
        expect(parseUuid(formatUuid(bytes))).toEqual(bytes);
      }),
    );
    fc.assert(
      fc.property(fc.tuple(u64, u64, u64, u64), (regs) => {
        expect(uidBytesToRegisters(uidRegistersToBytes(regs))).toEqual(regs.map((r) => r & 0xffffffffn));
      }),
    );
  });

  it('fuzz: parseUuid on any string is bytes or BAD_UUID', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uuid()), (s) => {
        try {
          expect(formatUuid(parseUuid(s))).toBe(s.toLowerCase());
        } catch (e) {
          expect((e as HypercallError).code).toBe('BAD_UUID');
        }
      }),
    );
  });

  it('classifies UID results', () => {
    expect(classifyUid(GUNYAH_UID_REGISTERS)).toEqual({ kind: 'gunyah', uid: 'standard', uuid: GUNYAH_UUID });
    expect(classifyUid(GUNYAH_UID_REGISTERS.map((r) => r | (1n << 63n)))).toMatchObject({ kind: 'gunyah' });
    // Qualcomm UUID: only when asked (v17/Android accept only the standard one)
    expect(classifyUid(QCOM_UID_REGISTERS)).toEqual({ kind: 'other', uuid: QCOM_GUNYAH_UUID });
    expect(classifyUid(QCOM_UID_REGISTERS, { acceptQualcomm: true })).toEqual({ kind: 'gunyah', uid: 'qualcomm', uuid: QCOM_GUNYAH_UUID });
    expect(classifyUid(QCOM_UID_REGISTERS_SWAPPED, { acceptQualcomm: true })).toMatchObject({ kind: 'gunyah', uid: 'qualcomm' });
    expect(classifyUid([NOT_SUPPORTED, 0n, 0n, 0n])).toEqual({ kind: 'not-supported' });
    expect(classifyUid([0xffffffffn, 0n, 0n, 0n])).toEqual({ kind: 'not-supported' });
    expect(classifyUid([0n, 0n, 0n, 0n])).toEqual({ kind: 'other', uuid: '00000000-0000-0000-0000-000000000000' });
  });

  it('fuzz: classifyUid on any registers is a classification or a typed error', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(u64, fc.bigInt(), fc.integer()), { maxLength: 6 }), fc.boolean(), (regs, acceptQualcomm) => {
        try {
          const c = classifyUid(regs as bigint[], { acceptQualcomm });
          expect(['gunyah', 'not-supported', 'other']).toContain(c.kind);
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
          expect(['BAD_LENGTH', 'NOT_U64']).toContain((e as HypercallError).code);
        }
      }),
    );
  });
});

describe('hyp_api_info (§2.2)', () => {
  it('field positions from the spec table', () => {
    expect(HYP_VARIANT).toEqual({ UNKNOWN: 0, GUNYAH: 0x48, QUALCOMM: 0x51 });
    expect(GUNYAH_API_VERSION).toBe(1);
    // "0x??00_0000_0000_8001 with ?? the variant"
    expect(encodeHypApiInfo({ apiVersion: 1, bigEndian: false, is64Bit: true, variant: 0x51 })).toBe(0x5100_0000_0000_8001n);
    expect(encodeHypApiInfo({ apiVersion: 1, bigEndian: false, is64Bit: true, variant: 0x48 })).toBe(0x4800_0000_0000_8001n);
    expect(encodeHypApiInfo({ apiVersion: 0x3fff, bigEndian: true, is64Bit: false, variant: 0 })).toBe(0x7fffn);
    expect(encodeHypApiInfo({ apiVersion: 0, bigEndian: false, is64Bit: false, variant: 0, reserved: 1n })).toBe(1n << 16n);
    expect(decodeHypApiInfo(0x5100_0000_0000_8001n)).toEqual({
      apiVersion: 1,
      bigEndian: false,
      is64Bit: true,
      variant: 0x51,
      variantName: 'QUALCOMM',
      reserved: 0n,
    });
    expect(decodeHypApiInfo(0x4800_0000_0000_4001n)).toMatchObject({ bigEndian: true, is64Bit: false, variantName: 'GUNYAH' });
    expect(decodeHypApiInfo(0x0100_0000_0000_0000n).variantName).toBeUndefined();
    expect(decodeHypApiInfo(0n).variantName).toBe('UNKNOWN');
  });

  it('strict mode rejects bits 55:16', () => {
    expect(() => decodeHypApiInfo(0x5100_0000_0001_8001n, { strict: true })).toThrow(code('RESERVED_BITS_SET'));
    expect(() => decodeHypApiInfo(0x0080_0000_0000_0000n, { strict: true })).toThrow(code('RESERVED_BITS_SET'));
    expect(decodeHypApiInfo(0xff00_0000_0000_ffffn, { strict: true }).apiVersion).toBe(0x3fff);
    expect(decodeHypApiInfo(0x5100_0000_0001_8001n).reserved).toBe(1n);
  });

  it('rejects bad fields', () => {
    const ok = { apiVersion: 1, bigEndian: false, is64Bit: true, variant: 0x48 };
    expect(() => encodeHypApiInfo({ ...ok, apiVersion: 0x4000 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeHypApiInfo({ ...ok, variant: 0x100 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeHypApiInfo({ ...ok, reserved: 1n << 40n })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => decodeHypApiInfo(-1n)).toThrow(code('NOT_U64'));
    expect(() => decodeHypApiInfo(2n ** 64n)).toThrow(code('NOT_U64'));
  });

  it('fuzz: every u64 round-trips; strict decode is a value or RESERVED_BITS_SET', () => {
    fc.assert(
      fc.property(u64, (x) => {
        expect(encodeHypApiInfo(decodeHypApiInfo(x))).toBe(x);
        try {
          expect(encodeHypApiInfo(decodeHypApiInfo(x, { strict: true }))).toBe(x);
        } catch (e) {
          expect((e as HypercallError).code).toBe('RESERVED_BITS_SET');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('api_flags_0/1/2 (§2.2)', () => {
  it('feature bits from the spec table', () => {
    expect(API_FLAGS0_FEATURE_BIT).toEqual({
      partitionCspace: 0,
      doorbell: 1,
      msgqueue: 2,
      vic: 3,
      vpm: 4,
      vcpu: 5,
      memextent: 6,
      traceCtrl: 7,
      watchdog: 8,
      virtioMmio: 9,
      prng: 10,
      vcpuRun: 11,
    });
    expect(API_FLAGS0_QCOM_ROOT_VM_CHANNEL_BIT).toBe(16);
    expect(SCHEDULER_VARIANT).toEqual({ TRIVIAL: 0, FPRR: 1 });
    expect(LINUX_REQUIRED_FEATURES).toEqual(['doorbell', 'msgqueue', 'vcpu', 'memextent']);
  });

  it('decodes single bits', () => {
    const f = decodeApiFlags0(1n << 11n);
    expect(f.features.vcpuRun).toBe(true);
    expect(Object.values(f.features).filter(Boolean)).toHaveLength(1);
    expect(decodeApiFlags0(0x1000_0000n).scheduler).toBe(SCHEDULER_VARIANT.FPRR);
    expect(decodeApiFlags0(0xf000_0000n).scheduler).toBe(15);
    expect(decodeApiFlags0(1n << 16n)).toMatchObject({ qcomRootVmChannel: true, reserved: 0n });
    expect(decodeApiFlags0(1n << 12n).reserved).toBe(1n << 12n);
    expect(decodeApiFlags0(0b110_0110n).features).toMatchObject({ doorbell: true, msgqueue: true, vcpu: true, memextent: true, vic: false });
  });

  it('encodes', () => {
    expect(encodeApiFlags0({ features: { doorbell: true, vcpuRun: true }, qcomRootVmChannel: false, scheduler: 1 })).toBe(0x1000_0802n);
    expect(encodeApiFlags0({ features: {}, qcomRootVmChannel: true, scheduler: 0 })).toBe(0x1_0000n);
    expect(() => encodeApiFlags0({ features: {}, qcomRootVmChannel: false, scheduler: 16 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeApiFlags0({ features: {}, qcomRootVmChannel: false, scheduler: 0, reserved: 1n })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(encodeApiFlags1({ sve: true })).toBe(1n);
    expect(() => encodeApiFlags1({ sve: false, reserved: 1n })).toThrow(code('FIELD_OUT_OF_RANGE'));
  });

  it('strict modes', () => {
    expect(() => decodeApiFlags0(1n << 12n, { strict: true })).toThrow(code('RESERVED_BITS_SET'));
    expect(() => decodeApiFlags0(1n << 63n, { strict: true })).toThrow(code('RESERVED_BITS_SET'));
    expect(decodeApiFlags0(0xf001_0fffn, { strict: true }).qcomRootVmChannel).toBe(true);
    expect(() => decodeApiFlags1(2n, { strict: true })).toThrow(code('RESERVED_BITS_SET'));
    expect(decodeApiFlags1(1n, { strict: true })).toEqual({ sve: true, reserved: 0n });
  });

  it('fuzz: every u64 round-trips through flags0 and flags1', () => {
    fc.assert(
      fc.property(u64, (x) => {
        expect(encodeApiFlags0(decodeApiFlags0(x))).toBe(x);
        expect(encodeApiFlags1(decodeApiFlags1(x))).toBe(x);
      }),
      { numRuns: 2000 },
    );
  });

  it('UNCONFIRMED §6.1: no "qcom-ext" flag is modelled; Qualcomm shows only as variant 0x51', () => {
    const all = decodeIdentifyResult([2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n]);
    const keys = [...Object.keys(all.flags0), ...Object.keys(all.flags0.features), ...Object.keys(all.flags1)];
    expect(keys.filter((k) => /qcom.?ext/i.test(k))).toEqual([]);
    expect(decodeHypApiInfo(0x5100_0000_0000_8001n).variantName).toBe('QUALCOMM');
  });
});

describe('hypervisor_identify result', () => {
  it('encodes the default emulated identity', () => {
    expect(encodeIdentifyResult(DEFAULT_IDENTIFY_RESULT)).toEqual([0x4800_0000_0000_8001n, 0x1000_0fffn, 0n, 0n]);
  });

  it('fuzz: any 4 u64 registers round-trip', () => {
    fc.assert(
      fc.property(fc.tuple(u64, u64, u64, u64), (regs) => {
        expect(encodeIdentifyResult(decodeIdentifyResult(regs))).toEqual(regs);
      }),
    );
  });

  it('fuzz: arbitrary input is a result or a typed error', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(u64, fc.bigInt(), fc.anything()), { maxLength: 5 }), fc.boolean(), (regs, strict) => {
        try {
          decodeIdentifyResult(regs as bigint[], { strict });
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
    );
  });

  it('strict rejects a non-zero flags2', () => {
    expect(() => decodeIdentifyResult([0x4800_0000_0000_8001n, 0n, 0n, 1n], { strict: true })).toThrow(code('RESERVED_BITS_SET'));
  });
});

describe('answerGunyahSmcccCall (emulator side)', () => {
  const id = { identify: DEFAULT_IDENTIFY_RESULT };
  const NS = [NOT_SUPPORTED, 0n, 0n, 0n];

  it('answers the detection calls with the spec values', () => {
    expect(answerGunyahSmcccCall(0x8600ff01, id)).toEqual({ kind: 'answer', call: 'VENDOR_HYP_CALL_UID', registers: [0xcd8fd5c1n, 0xdb5f53a4n, 0x36ce6592n, 0x145f3d67n] });
    expect(answerGunyahSmcccCall(0x8500ff01, id)).toEqual({ kind: 'answer', call: 'STANDARD_HYP_CALL_UID', registers: GUNYAH_UID_REGISTERS });
    expect(answerGunyahSmcccCall(0x8500ff03, id)).toEqual({ kind: 'answer', call: 'STANDARD_HYP_REVISION', registers: [1n, 0n, 0n, 0n] });
    expect(answerGunyahSmcccCall(0x8600ff03, id)).toEqual({ kind: 'answer', call: 'VENDOR_HYP_REVISION', registers: [0x4800_0000_0000_8001n, 0n, 0n, 0n] });
    expect(answerGunyahSmcccCall(0x8600ff00, id)).toEqual({ kind: 'answer', call: 'VENDOR_HYP_CALL_COUNT', registers: NS });
    expect(answerGunyahSmcccCall(0xc6008000n, id)).toEqual({ kind: 'answer', call: 'HYPERVISOR_IDENTIFY', registers: [0x4800_0000_0000_8001n, 0x1000_0fffn, 0n, 0n] });
  });

  it('uses a custom UID', () => {
    expect(answerGunyahSmcccCall(0x8600ff01, { ...id, uid: QCOM_UID_REGISTERS })).toMatchObject({ registers: QCOM_UID_REGISTERS });
  });

  it('hands other hypercalls to the caller', () => {
    expect(answerGunyahSmcccCall(0xc6008065, id)).toMatchObject({ kind: 'hypercall', hypercall: { name: 'vcpu_run' } });
    expect(answerGunyahSmcccCall(0xc6018012, id)).toMatchObject({ kind: 'hypercall', hypercall: { name: 'doorbell_send' } });
  });

  it('answers -1 where the spec says Gunyah does', () => {
    for (const fid of [
      0x86008000, // identify as SMC32
      0x46008000, // identify as yielding
      0xc6008016, // reserved number
      0xc6008040, // watchdog: not known in SMCCC form
      0xc6009fff, // unknown number
      0xc600ff01, // UID as SMC64
      0x0600ff01, // UID as yielding
      0x8600ff02, // unknown service function
      0xc6fe8000, // bits 23:17 set
      0x8502ff01, // owner 5 with bits 23:17 set
    ]) {
      expect(answerGunyahSmcccCall(fid, id), fid.toString(16)).toEqual({ kind: 'answer', call: 'UNKNOWN_FUNCTION', registers: NS });
    }
  });

  it('passes everything else', () => {
    for (const fid of [0x86003f01, 0x80000000, 0x84000000, 0xc4000003, 0xc5000020, 0x8500ff02, 0xc6000001, 0xc6004001, 0x8700ff01]) {
      expect(answerGunyahSmcccCall(fid, id), fid.toString(16)).toEqual({ kind: 'pass' });
    }
  });

  it('fuzz: any u32 gets an answer, a hypercall or pass; non-u32 a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (fid) => {
        const a = answerGunyahSmcccCall(fid, id);
        expect(['answer', 'hypercall', 'pass']).toContain(a.kind);
        if (a.kind === 'answer') expect(a.registers).toHaveLength(4);
      }),
      { numRuns: 2000 },
    );
    expect(() => answerGunyahSmcccCall(-1, id)).toThrow(code('NOT_U32'));
  });
});

describe('detectGunyah (§2.3)', () => {
  // A fake hypervisor written from the spec numbers, independent of answerGunyahSmcccCall.
  function fakeHyp(opts: { uid?: readonly bigint[]; apiInfo?: bigint; flags0?: bigint; infoArea?: readonly bigint[] } = {}) {
    const calls: { fid: number; args: readonly bigint[] }[] = [];
    const call: SmcccCall = (fid, args) => {
      calls.push({ fid, args });
      if (fid === 0x8600ff01) return opts.uid ?? [0xcd8fd5c1n, 0xdb5f53a4n, 0x36ce6592n, 0x145f3d67n];
      if (fid === 0xc6008000) return [opts.apiInfo ?? 0x5100_0000_0000_8001n, opts.flags0 ?? 0x1000_0867n, 0n, 0n];
      if (fid === 0xc600806a) return opts.infoArea ?? [NOT_SUPPORTED, 0n, 0n, 0n];
      return [NOT_SUPPORTED, 0n, 0n, 0n];
    };
    return { call, calls };
  }

  it('detects Gunyah with the two calls of steps 1–2', () => {
    const h = fakeHyp();
    const r = detectGunyah(h.call, { requiredFeatures: LINUX_REQUIRED_FEATURES });
    expect(r.kind).toBe('gunyah');
    if (r.kind !== 'gunyah') return;
    expect(r.uid).toMatchObject({ uid: 'standard' });
    expect(r.identify.apiInfo.variantName).toBe('QUALCOMM');
    expect(r.identify.flags0.features.vcpuRun).toBe(true);
    expect(r.infoArea).toBeUndefined();
    expect(h.calls).toEqual([
      { fid: 0x8600ff01, args: [] },
      { fid: 0xc6008000, args: [] },
    ]);
  });

  it('stops after the UID when it is not Gunyah', () => {
    const h = fakeHyp({ uid: [NOT_SUPPORTED, 0n, 0n, 0n] });
    expect(detectGunyah(h.call)).toEqual({ kind: 'not-gunyah', uid: { kind: 'not-supported' } });
    expect(h.calls).toHaveLength(1);
    const q = fakeHyp({ uid: QCOM_UID_REGISTERS });
    expect(detectGunyah(q.call).kind).toBe('not-gunyah');
    expect(detectGunyah(q.call, { acceptQualcommUid: true }).kind).toBe('gunyah');
  });

  it('requires API version 1 and a 64-bit API (step 2)', () => {
    expect(detectGunyah(fakeHyp({ apiInfo: 0x4800_0000_0000_8002n }).call)).toMatchObject({ kind: 'unsupported', reason: 'API_VERSION' });
    expect(detectGunyah(fakeHyp({ apiInfo: 0x4800_0000_0000_0001n }).call)).toMatchObject({ kind: 'unsupported', reason: 'NOT_64BIT' });
  });

  it('gates on required features (step 3)', () => {
    const r = detectGunyah(fakeHyp({ flags0: 0b0010_0110n }).call, { requiredFeatures: LINUX_REQUIRED_FEATURES });
    expect(r).toMatchObject({ kind: 'unsupported', reason: 'MISSING_FEATURES', missingFeatures: ['memextent'] });
    expect(detectGunyah(fakeHyp({ flags0: 0n }).call).kind).toBe('gunyah');
  });

  it('UNCONFIRMED §6.2/§6.3: flags1 bit 0 (SVE) and flags0 bit 16 never change detection', () => {
    const base = detectGunyah(fakeHyp().call, { requiredFeatures: LINUX_REQUIRED_FEATURES });
    const withBits = detectGunyah(fakeHyp({ flags0: 0x1001_0867n }).call, { requiredFeatures: LINUX_REQUIRED_FEATURES });
    expect(base.kind).toBe('gunyah');
    expect(withBits.kind).toBe('gunyah');
    if (withBits.kind === 'gunyah') expect(withBits.identify.flags0.qcomRootVmChannel).toBe(true);
  });

  it('queries the info area only when asked, with res0 = 0, and ignores its errors (step 4)', () => {
    const failing = fakeHyp();
    expect(detectGunyah(failing.call, { queryInfoArea: true })).toMatchObject({ kind: 'gunyah', infoArea: undefined });
    expect(failing.calls[2]).toEqual({ fid: 0xc600806a, args: [0n] });
    const ok = fakeHyp({ infoArea: [0n, 0x8000_0000n, 0x1000n, 0n] });
    expect(detectGunyah(ok.call, { queryInfoArea: true })).toMatchObject({ infoArea: { ipa: 0x8000_0000n, size: 0x1000n } });
  });

  it('rejects malformed call results with BAD_CALL_RESULT', () => {
    expect(() => detectGunyah(() => [1n, 2n])).toThrow(code('BAD_CALL_RESULT'));
    expect(() => detectGunyah(() => [1n, 2n, 3n, -4n])).toThrow(code('BAD_CALL_RESULT'));
    expect(() => detectGunyah(() => undefined as unknown as bigint[])).toThrow(code('BAD_CALL_RESULT'));
  });

  it('async variant gives the same result', async () => {
    const h = fakeHyp();
    await expect(detectGunyahAsync(async (f, a) => h.call(f, a), { queryInfoArea: true })).resolves.toEqual(detectGunyah(fakeHyp().call, { queryInfoArea: true }));
    await expect(detectGunyahAsync(async () => [1n])).rejects.toMatchObject({ code: 'BAD_CALL_RESULT' });
  });

  it('detects an emulated Gunyah built on answerGunyahSmcccCall end to end', () => {
    const identity = { identify: DEFAULT_IDENTIFY_RESULT };
    const r = detectGunyah((fid) => {
      const a = answerGunyahSmcccCall(fid, identity);
      return a.kind === 'answer' ? a.registers : [NOT_SUPPORTED, 0n, 0n, 0n];
    }, { requiredFeatures: LINUX_REQUIRED_FEATURES, queryInfoArea: true });
    expect(r).toMatchObject({ kind: 'gunyah', identify: { apiInfo: { variantName: 'GUNYAH' } } });
  });

  it('fuzz: any callback output gives a result or a typed error', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.oneof(u64, fc.constantFrom(...GUNYAH_UID_REGISTERS), fc.bigInt()), { maxLength: 6 }), { minLength: 4, maxLength: 4 }), (answers) => {
        let i = 0;
        try {
          const r = detectGunyah(() => answers[i++ % answers.length] as bigint[], { queryInfoArea: true });
          expect(['gunyah', 'not-gunyah', 'unsupported']).toContain(r.kind);
        } catch (e) {
          expect((e as HypercallError).code).toBe('BAD_CALL_RESULT');
        }
      }),
    );
  });
});
