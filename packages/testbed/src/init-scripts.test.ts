import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GUEST_DONE_MARKER, GUEST_MODULE_DIR, GUEST_OK_MARKER, GUEST_SHELL_MARKER, GUEST_VIRTIO_MARKER, guestInit, guestShellInit, guestVirtioInit, hostInit, runScript, shQuote } from './init-scripts.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a generated script with the build machine's /bin/sh (same POSIX shell language as busybox sh). */
function sh(script: string): { status: number | null; stdout: string } {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script);
  const r = spawnSync('sh', [file], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout };
}

describe('init scripts', () => {
  it('are valid sh (sh -n)', () => {
    for (const text of [hostInit(), guestInit(), guestShellInit(), guestVirtioInit()]) {
      const file = join(dir, 'init');
      writeFileSync(file, text);
      const r = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('host /init prints the ready and exit markers with the nonce and powers off', () => {
    const text = hostInit();
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain('echo "@@TESTBED:$nonce:READY@@"');
    expect(text).toContain('echo "@@TESTBED:$nonce:EXIT=$rc@@"');
    expect(text).toContain('mount -t 9p');
    expect(text.trimEnd().endsWith('poweroff -f')).toBe(true);
  });

  it('guest /init prints its markers in order and powers off', () => {
    const text = guestInit();
    expect(text.indexOf(GUEST_OK_MARKER)).toBeGreaterThan(0);
    expect(text.indexOf(GUEST_DONE_MARKER)).toBeGreaterThan(text.indexOf(GUEST_OK_MARKER));
    expect(text.trimEnd().endsWith('poweroff -f')).toBe(true);
  });
});

describe('interactive guest /init', () => {
  it('mounts the pseudo file systems, prints its marker, runs a shell on the console, then powers off', () => {
    const text = guestShellInit();
    const at = (s: string): number => text.indexOf(s);
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(at('mount -t proc')).toBeGreaterThan(0);
    expect(at('--install -s /bin')).toBeGreaterThan(at('mount -t proc'));
    expect(at('mount -t devtmpfs')).toBeGreaterThan(at('--install'));
    expect(at(GUEST_SHELL_MARKER)).toBeGreaterThan(at('mount -t devtmpfs'));
    expect(at('setsid cttyhack sh')).toBeGreaterThan(at(GUEST_SHELL_MARKER));
    expect(text.trimEnd().endsWith('poweroff -f')).toBe(true);
  });
});

describe('runScript', () => {
  it('exports the environment, changes directory, runs the argv and records the exit code', () => {
    const exitFile = join(dir, 'exit1');
    const r = sh(runScript({ cwd: dir, command: ['sh', '-c', 'echo "$PWD|$FOO"; exit 5'], env: { FOO: "it's $HOME" }, exitFile }));
    expect(r.stdout).toBe(`${dir}|it's $HOME\n`);
    expect(r.status).toBe(5);
    expect(readFileSync(exitFile, 'utf8')).toBe('5\n');
  });

  it('runs a shell snippet as written', () => {
    const exitFile = join(dir, 'exit2');
    const r = sh(runScript({ cwd: dir, command: { shell: 'a=4; echo $((a * 2)) && false' }, env: {}, exitFile }));
    expect(r.stdout).toBe('8\n');
    expect(r.status).toBe(1);
  });

  it('exits 125 when the directory does not exist', () => {
    const r = sh(runScript({ cwd: join(dir, 'missing'), command: ['true'], env: {}, exitFile: join(dir, 'exit3') }));
    expect(r.status).toBe(125);
  });

  it.each([
    [{ command: [] as string[], env: {} }],
    [{ command: { shell: '  ' }, env: {} }],
    [{ command: ['true'], env: { 'BAD-NAME': 'x' } }],
  ])('rejects bad input with BAD_ARGS', (o) => {
    expect(() => runScript({ cwd: '/', exitFile: '/x', ...o })).toThrowError(expect.objectContaining({ code: 'BAD_ARGS' }));
  });

  it('property: shQuote passes any argument through sh unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', ' ', "'", '"', '$', '\\', '`', '\n', '*', ';', '!', 'é') }), { minLength: 1, maxLength: 4 }), (args) => {
        const r = spawnSync('sh', ['-c', `printf '%s\\0' ${args.map(shQuote).join(' ')}`], { encoding: 'utf8' });
        expect(r.stdout).toBe(args.map((a) => `${a}\0`).join(''));
      }),
      { numRuns: 100 },
    );
  });
});

describe('virtio guest /init', () => {
  it('loads the listed modules after mounting /dev, then prints its marker with the devices found, runs a shell, powers off', () => {
    const text = guestVirtioInit();
    const at = (s: string): number => text.indexOf(s);
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(at('mount -t devtmpfs')).toBeGreaterThan(at('--install -s /bin'));
    expect(at(`insmod ${GUEST_MODULE_DIR}/$m.ko`)).toBeGreaterThan(at('mount -t devtmpfs'));
    expect(at('$(cat /etc/testbed/modules)')).toBeGreaterThan(0);
    expect(at(GUEST_VIRTIO_MARKER)).toBeGreaterThan(at('insmod'));
    for (const dev of ['vda=$(have /dev/vda)', 'hvc0=$(have /dev/hvc0)', 'hwrng=$(have /dev/hwrng)']) expect(text).toContain(dev);
    expect(at('setsid cttyhack sh')).toBeGreaterThan(at(GUEST_VIRTIO_MARKER));
    expect(text.trimEnd().endsWith('poweroff -f')).toBe(true);
  });
});
