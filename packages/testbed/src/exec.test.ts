import { describe, expect, it } from 'vitest';
import { execBounded, tail } from './exec.js';

describe('execBounded', () => {
  it('returns the output of a successful program', async () => {
    await expect(execBounded('sh', ['-c', 'echo out; echo err >&2'], { timeoutMs: 10_000 })).resolves.toEqual({ stdout: 'out\n', stderr: 'err\n' });
  });

  it('COMMAND_FAILED with the output tail on a non-zero exit', async () => {
    await expect(execBounded('sh', ['-c', 'echo why; exit 3'], { timeoutMs: 10_000, what: 'step' }))
      .rejects.toMatchObject({ code: 'COMMAND_FAILED', message: expect.stringMatching(/^step: exited with 3\.\nwhy$/) });
  });

  it('TOOL_MISSING for a program that does not exist', async () => {
    await expect(execBounded('no-such-program-testbed', [], { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'TOOL_MISSING' });
  });

  it('TIMEOUT kills the whole process group', async () => {
    const t0 = Date.now();
    // the grandchild (sleep) would keep the pipe open for 30 s if it were not killed with the group
    await expect(execBounded('sh', ['-c', 'sleep 30 & sleep 30; echo never'], { timeoutMs: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('tail', () => {
  it('keeps the last lines without \\r and trailing blank lines', () => {
    expect(tail('a\r\nb\nc\n\n', 2)).toBe('b\nc');
    expect(tail('', 3)).toBe('');
  });
});
