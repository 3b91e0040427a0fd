import { describe, expect, it } from 'vitest';
import { ErrnoError, errnoName, errnoValue } from './errno.js';

describe('errno mapping', () => {
  it('names Linux errno values', () => {
    expect(errnoName(9)).toBe('EBADF');
    expect(errnoName(25)).toBe('ENOTTY');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(4)).toBe('EINTR');
    expect(errnoName(99999)).toBe('E99999');
    expect(errnoValue('EINVAL')).toBe(22);
    expect(errnoValue('NOPE')).toBeUndefined();
  });

  it('builds ErrnoError with code, syscall and op', () => {
    const e = new ErrnoError(22, 'ioctl', 'GUNYAH_VM_SET_DTB_CONFIG');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ErrnoError');
    expect(e.code).toBe('EINVAL');
    expect(e.syscall).toBe('ioctl');
    expect(e.op).toBe('GUNYAH_VM_SET_DTB_CONFIG');
    expect(e.message).toBe('GUNYAH_VM_SET_DTB_CONFIG: ioctl failed: EINVAL');
    const plain = new ErrnoError(2, 'open');
    expect(plain.op).toBeUndefined();
    expect(plain.withOp('X').op).toBe('X');
    expect(plain.withOp('X').cause).toBe(plain);
  });

  it('converts binding errors and leaves everything else alone', () => {
    const native = Object.assign(new Error('ioctl failed'), { errno: 25, syscall: 'ioctl' });
    const e = ErrnoError.from(native, 'OP') as ErrnoError;
    expect(e).toBeInstanceOf(ErrnoError);
    expect(e.code).toBe('ENOTTY');
    expect(e.op).toBe('OP');
    expect(e.cause).toBe(native);
    const t = new TypeError('bad');
    expect(ErrnoError.from(t)).toBe(t);
    expect(ErrnoError.from({ errno: -1 })).toEqual({ errno: -1 });
    expect(ErrnoError.from('str')).toBe('str');
    const already = new ErrnoError(9, 'close', 'A');
    expect(ErrnoError.from(already, 'B')).toBe(already);
  });
});
