import { constants } from 'node:os';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  GUNYAH_ERROR,
  GUNYAH_ERRNO_MAPPINGS,
  GUNYAH_ERROR_LINUX_NAMES,
  LINUX_ERRNO,
  errnoMappingGeneration,
  gunyahErrorFromRegister,
  gunyahErrorName,
  gunyahErrorToErrno,
  gunyahErrorToErrnoName,
  type GunyahErrorName,
  type LinuxSeries,
} from './error-codes.js';
import { HypercallError } from './errors.js';

const code = (c: string) => expect.objectContaining({ name: 'HypercallError', code: c });

// spec/gunyah-hypercalls.md §4: value, hypervisor name (ERROR_ prefix dropped), Linux v17 name ('—' = none).
const SPEC_ERRORS: readonly (readonly [number, string, string])[] = [
  [0, 'OK', 'OK'],
  [-1, 'UNIMPLEMENTED', 'UNIMPLEMENTED'],
  [-2, 'RETRY', 'RETRY'],
  [1, 'ARGUMENT_INVALID', 'ARG_INVAL'],
  [2, 'ARGUMENT_SIZE', 'ARG_SIZE'],
  [3, 'ARGUMENT_ALIGNMENT', 'ARG_ALIGN'],
  [10, 'NOMEM', 'NOMEM'],
  [11, 'NORESOURCES', '—'],
  [20, 'ADDR_OVERFLOW', 'ADDR_OVFL'],
  [21, 'ADDR_UNDERFLOW', 'ADDR_UNFL'],
  [22, 'ADDR_INVALID', 'ADDR_INVAL'],
  [30, 'DENIED', 'DENIED'],
  [31, 'BUSY', 'BUSY'],
  [32, 'IDLE', 'IDLE'],
  [33, 'OBJECT_STATE', '—'],
  [34, 'OBJECT_CONFIG', '—'],
  [35, 'OBJECT_CONFIGURED', '—'],
  [36, 'FAILURE', '—'],
  [40, 'VIRQ_BOUND', 'IRQ_BOUND'],
  [41, 'VIRQ_NOT_BOUND', 'IRQ_UNBOUND'],
  [50, 'CSPACE_CAP_NULL', 'CSPACE_CAP_NULL'],
  [51, 'CSPACE_CAP_REVOKED', 'CSPACE_CAP_REVOKED'],
  [52, 'CSPACE_WRONG_OBJECT_TYPE', 'CSPACE_WRONG_OBJ_TYPE'],
  [53, 'CSPACE_INSUFFICIENT_RIGHTS', 'CSPACE_INSUF_RIGHTS'],
  [54, 'CSPACE_FULL', 'CSPACE_FULL'],
  [60, 'MSGQUEUE_EMPTY', 'MSGQUEUE_EMPTY'],
  [61, 'MSGQUEUE_FULL', 'MSGQUEUE_FULL'],
  [90, 'STRING_TRUNCATED', '—'],
  [91, 'STRING_REACHED_END', '—'],
  [92, 'STRING_INVALID_FORMAT', '—'],
  [93, 'STRING_MISSING_PLACEHOLDER', '—'],
  [94, 'STRING_MISSING_ARGUMENT', '—'],
  [100, 'ALLOCATOR_RANGE_OVERLAPPING', '—'],
  [101, 'ALLOCATOR_MEM_INUSE', '—'],
  [110, 'MEMDB_EMPTY', '—'],
  [111, 'MEMDB_NOT_OWNER', '—'],
  [120, 'MEMEXTENT_MAPPINGS_FULL', '—'],
  [121, 'MEMEXTENT_TYPE', '—'],
  [200, 'EXISTING_MAPPING', '—'],
];

// spec §4.1 table: Linux names → [v10, v11–v14, v17/Android]; 'OK' = 0.
const SPEC_ERRNO: readonly (readonly [readonly string[], string, string, string])[] = [
  [['OK'], 'OK', 'OK', 'OK'],
  [['NOMEM'], 'ENOMEM', 'ENOMEM', 'ENOMEM'],
  [['DENIED', 'CSPACE_CAP_NULL', 'CSPACE_CAP_REVOKED', 'CSPACE_WRONG_OBJ_TYPE', 'CSPACE_INSUF_RIGHTS'], 'EACCES', 'EACCES', 'EACCES'],
  [['CSPACE_FULL'], 'EACCES', 'EACCES', 'EBUSY'],
  [['BUSY', 'IDLE'], 'EBUSY', 'EBUSY', 'EBUSY'],
  [['IRQ_BOUND', 'IRQ_UNBOUND', 'MSGQUEUE_FULL', 'MSGQUEUE_EMPTY'], 'EBUSY', 'EIO', 'EIO'],
  [['UNIMPLEMENTED'], 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP'],
  [['RETRY'], 'EOPNOTSUPP', 'EOPNOTSUPP', 'EAGAIN'],
];

const linuxToValue = (linux: string): number => {
  const row = SPEC_ERRORS.find((r) => r[2] === linux);
  if (row === undefined) throw new Error(`test table: no ${linux}`);
  return row[0];
};

const SERIES: readonly (readonly [LinuxSeries, 1 | 2 | 3])[] = [
  ['v10', 1],
  ['v11', 2],
  ['v12', 2],
  ['v13', 2],
  ['v14', 2],
  ['v17', 3],
  ['android', 3],
];

describe('Gunyah error codes (§4)', () => {
  it('has exactly the spec values and names', () => {
    expect(Object.entries(GUNYAH_ERROR).map(([k, v]) => [v, k]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
      SPEC_ERRORS.map((r) => [r[0], r[1]]).sort((a, b) => Number(a[0]) - Number(b[0])),
    );
  });

  it.each(SPEC_ERRORS)('%d is %s (Linux %s)', (value, name, linux) => {
    expect(GUNYAH_ERROR[name as GunyahErrorName]).toBe(value);
    expect(gunyahErrorName(value)).toBe(name);
    expect(gunyahErrorName(BigInt.asUintN(64, BigInt(value)))).toBe(name);
    expect(GUNYAH_ERROR_LINUX_NAMES[name as GunyahErrorName]).toBe(linux === '—' ? undefined : linux);
  });

  it('reads x0 as signed 64-bit', () => {
    expect(gunyahErrorFromRegister(0xffff_ffff_ffff_ffffn)).toBe(-1n);
    expect(gunyahErrorFromRegister(0xffff_ffff_ffff_fffen)).toBe(-2n);
    expect(gunyahErrorFromRegister(-2)).toBe(-2n);
    expect(gunyahErrorFromRegister(61n)).toBe(61n);
    expect(gunyahErrorFromRegister(-(2n ** 63n))).toBe(-(2n ** 63n));
    expect(gunyahErrorName(0xffff_ffffn)).toBeUndefined(); // -1 in W0 only is not -1 in x0
    expect(gunyahErrorName(4)).toBeUndefined();
  });

  it('rejects values that do not fit a register', () => {
    for (const bad of [2n ** 64n, -(2n ** 63n) - 1n, 1.5, Number.NaN, 2 ** 60]) {
      expect(() => gunyahErrorFromRegister(bad)).toThrow(code('NOT_U64'));
    }
    expect(() => gunyahErrorName('1' as unknown as number)).toThrow(code('NOT_U64'));
  });

  it('fuzz: any integer gives a name, undefined or a typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 65n }), fc.integer(), fc.double()), (v) => {
        try {
          const name = gunyahErrorName(v);
          if (name !== undefined) expect(BigInt(GUNYAH_ERROR[name])).toBe(BigInt.asIntN(64, BigInt(v)));
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
    );
  });
});

describe('errno mapping (§4.1)', () => {
  it('uses the Linux (asm-generic) errno numbers', () => {
    expect(LINUX_ERRNO).toEqual({ EIO: 5, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EBUSY: 16, EINVAL: 22, EOPNOTSUPP: 95 });
  });

  it.runIf(process.platform === 'linux')('errno numbers agree with this Linux host', () => {
    for (const [name, n] of Object.entries(LINUX_ERRNO)) {
      expect(constants.errno[name as keyof typeof constants.errno]).toBe(n);
    }
  });

  for (const [series, column] of SERIES) {
    it(`series ${series}: every spec row`, () => {
      for (const row of SPEC_ERRNO) {
        const expected = row[column];
        for (const linux of row[0]) {
          const value = linuxToValue(linux);
          expect(gunyahErrorToErrnoName(value, { series })).toBe(expected === 'OK' ? undefined : expected);
          expect(gunyahErrorToErrno(value, { series })).toBe(expected === 'OK' ? 0 : -LINUX_ERRNO[expected as keyof typeof LINUX_ERRNO]);
        }
      }
    });

    it(`series ${series}: anything else is -EINVAL`, () => {
      const listed = new Set(SPEC_ERRNO.flatMap((r) => r[0]).map(linuxToValue));
      for (const [value] of SPEC_ERRORS) {
        if (!listed.has(value)) expect(gunyahErrorToErrno(value, { series })).toBe(-22);
      }
      expect(gunyahErrorToErrno(4, { series })).toBe(-22);
      expect(gunyahErrorToErrno(-3, { series })).toBe(-22);
      expect(gunyahErrorToErrno(2n ** 63n, { series })).toBe(-22);
    });
  }

  it('the changes between generations are where the spec says', () => {
    expect(gunyahErrorToErrno(GUNYAH_ERROR.CSPACE_FULL, { series: 'v14' })).toBe(-13);
    expect(gunyahErrorToErrno(GUNYAH_ERROR.CSPACE_FULL, { series: 'v17' })).toBe(-16);
    expect(gunyahErrorToErrno(GUNYAH_ERROR.MSGQUEUE_FULL, { series: 'v10' })).toBe(-16);
    expect(gunyahErrorToErrno(GUNYAH_ERROR.MSGQUEUE_FULL, { series: 'v11' })).toBe(-5);
    expect(gunyahErrorToErrno(GUNYAH_ERROR.RETRY, { series: 'v14' })).toBe(-95);
    expect(gunyahErrorToErrno(GUNYAH_ERROR.RETRY, { series: 'android' })).toBe(-11);
  });

  it('defaults to the v17 mapping', () => {
    expect(gunyahErrorToErrno(GUNYAH_ERROR.RETRY)).toBe(-11);
    expect(gunyahErrorToErrnoName(0xffff_ffff_ffff_fffen)).toBe('EAGAIN');
    expect(gunyahErrorToErrno(0)).toBe(0);
  });

  it('exposes the three generations as data', () => {
    expect(Object.keys(GUNYAH_ERRNO_MAPPINGS)).toEqual(['v10', 'v11-v14', 'v17']);
    expect(errnoMappingGeneration('v13')).toBe('v11-v14');
    expect(errnoMappingGeneration('android')).toBe('v17');
  });

  it('rejects series the spec does not cover', () => {
    for (const s of ['v15', 'v16', 'v9', '', 'V17']) {
      expect(() => gunyahErrorToErrno(1, { series: s as LinuxSeries })).toThrow(code('UNKNOWN_SERIES'));
    }
  });
});
