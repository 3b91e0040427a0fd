import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withLock } from './prepare.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = (): void => {};

describe('withLock', () => {
  it('runs one holder at a time and removes the lock afterwards', async () => {
    const lock = join(dir, 'a.lock');
    const events: string[] = [];
    const job = (name: string) => withLock(lock, 10_000, quiet, async () => {
      events.push(`${name}+`);
      await new Promise((r) => setTimeout(r, 100));
      events.push(`${name}-`);
      return name;
    });
    await expect(Promise.all([job('a'), job('b')])).resolves.toEqual(['a', 'b']);
    expect(events).toEqual(['a+', 'a-', 'b+', 'b-']);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose process is gone', async () => {
    const lock = join(dir, 'b.lock');
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(lock, `${dead}\n`);
    await expect(withLock(lock, 5_000, quiet, async () => 'got it')).resolves.toBe('got it');
  });

  it('TIMEOUT while a live process holds the lock', async () => {
    const lock = join(dir, 'c.lock');
    writeFileSync(lock, `${process.ppid}\n`);
    const logs: string[] = [];
    await expect(withLock(lock, 500, (l) => logs.push(l), async () => 'never')).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(logs[0]).toContain(`waiting for another prepare (pid ${process.ppid})`);
    expect(existsSync(lock)).toBe(true);
  });

  it('releases the lock when the job throws', async () => {
    const lock = join(dir, 'd.lock');
    await expect(withLock(lock, 5_000, quiet, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });
});
