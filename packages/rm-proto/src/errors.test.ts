import { describe, expect, it } from 'vitest';
import { RM_ERROR, RmError, rmErrorName, rmErrorToErrno } from '../src/index.js';

describe('RM error codes (spec §2)', () => {
  it.each([
    [0x00, 'OK', 'OK', 0],
    [0xffffffff, 'UNIMPLEMENTED', 'EOPNOTSUPP', 95],
    [0x01, 'NOMEM', 'ENOMEM', 12],
    [0x02, 'NORESOURCE', 'ENODEV', 19],
    [0x03, 'DENIED', 'EPERM', 1],
    [0x04, 'MSG_INVALID', 'EINVAL', 22],
    [0x05, 'BUSY', 'EBUSY', 16],
    [0x06, 'ARGUMENT_INVALID', 'EINVAL', 22],
    [0x07, 'HANDLE_INVALID', 'EINVAL', 22],
    [0x08, 'VALIDATE_FAILED', 'EINVAL', 22],
    [0x09, 'MAP_FAILED', 'EINVAL', 22],
    [0x0a, 'MEM_INVALID', 'EINVAL', 22],
    [0x0b, 'MEM_INUSE', 'EINVAL', 22],
    [0x0c, 'MEM_RELEASED', 'EINVAL', 22],
    [0x0d, 'VMID_INVALID', 'EINVAL', 22],
    [0x0e, 'LOOKUP_FAILED', 'EINVAL', 22],
    [0x0f, 'IRQ_INVALID', 'EINVAL', 22],
    [0x10, 'IRQ_INUSE', 'EINVAL', 22],
    [0x11, 'IRQ_RELEASED', 'EINVAL', 22],
    [0x12, 'IN_USE', 'EBADMSG', 74],
    [0x13, 'IRQ_NOT_MAPPED', 'EBADMSG', 74],
    [0x14, 'VM_STATE', 'EBADMSG', 74],
    [0x15, 'UNKNOWN', 'EBADMSG', 74],
    [0x7fffffff, 'UNKNOWN', 'EBADMSG', 74],
  ])('0x%s → %s, Linux %s', (code, name, errnoName, errno) => {
    expect(rmErrorName(code)).toBe(name);
    expect(rmErrorToErrno(code)).toEqual({ name: errnoName, errno });
  });

  it('the table holds 22 codes with distinct values', () => {
    expect(new Set(Object.values(RM_ERROR)).size).toBe(22);
  });

  it('RmError carries code, name, errno, context and extra bytes', () => {
    const e = new RmError('VM_STATE', { msgId: 0x56000004, messageName: 'VM_START', extra: Uint8Array.of(9, 0, 0, 0) });
    expect(e).toMatchObject({ name: 'RmError', rmErrorCode: 0x14, rmErrorName: 'VM_STATE', msgId: 0x56000004, messageName: 'VM_START' });
    expect(e.errno.name).toBe('EBADMSG');
    expect([...e.extra]).toEqual([9, 0, 0, 0]);
    expect(new RmError(0x99).rmErrorName).toBe('UNKNOWN');
    expect(new RmError(0x99).extra.byteLength).toBe(0);
  });

  it('RmError refuses OK and non-u32 codes', () => {
    expect(() => new RmError('OK')).toThrow(RangeError);
    expect(() => new RmError(0)).toThrow(RangeError);
    expect(() => new RmError(2 ** 32)).toThrow(RangeError);
  });
});
