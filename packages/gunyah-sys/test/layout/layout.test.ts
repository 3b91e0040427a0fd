// Layout test: our own C declarations (layouts.c, written from the spec) against the TypeScript
// tables, on the host (JSON comparison) and for arm64 (compile-time asserts), plus the committed JSON.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedFromTs, expectedHeader } from './expected.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const source = join(here, 'layouts.c');
const committed = JSON.parse(readFileSync(join(here, 'layout-expected.json'), 'utf8')) as Record<string, unknown>;

function has(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}
const hostCc = ['cc', 'gcc', 'clang'].find(has);
const crossCc = has('aarch64-linux-gnu-gcc') ? 'aarch64-linux-gnu-gcc' : undefined;
const work = mkdtempSync(join(tmpdir(), 'gunyah-layout-'));
writeFileSync(join(work, 'expected.h'), expectedHeader());
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('committed layout-expected.json (pure)', () => {
  it('matches the TypeScript tables', () => {
    const { _source: _ignored, ...rest } = committed;
    expect(expectedFromTs()).toEqual(rest);
  });
});

describe.skipIf(hostCc === undefined)(`host C compiler (${hostCc ?? 'none: install gcc to run this'})`, () => {
  it('sizeof/offsetof/request numbers of layouts.c equal the TypeScript tables', () => {
    const exe = join(work, 'layouts');
    execFileSync(hostCc!, ['-std=c11', '-Wall', '-Werror', `-DGT_EXPECTED="${join(work, 'expected.h')}"`, source, '-o', exe]);
    const out = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as { ioctls: Record<string, number> };
    const hostIow = out.ioctls['HOST_IOW_SET_USER_MEM_REGION'];
    delete out.ioctls['HOST_IOW_SET_USER_MEM_REGION'];
    expect(out).toEqual(expectedFromTs());
    if (hostIow !== undefined) expect(hostIow).toBe(0x40204701); // the host's own _IOW agrees
  });

  it.skipIf(!has('g++'))('the same holds when layouts.c is compiled as C++ with g++', () => {
    const exe = join(work, 'layouts-cxx');
    execFileSync('g++', ['-x', 'c++', '-std=c++17', '-Wall', '-Werror', `-DGT_EXPECTED="${join(work, 'expected.h')}"`, source, '-o', exe]);
    const out = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as { ioctls: Record<string, number> };
    delete out.ioctls['HOST_IOW_SET_USER_MEM_REGION'];
    expect(out).toEqual(expectedFromTs());
  });

  it('a wrong expectation fails to compile (the asserts bite)', () => {
    const bad = join(work, 'bad.h');
    writeFileSync(bad, expectedHeader().replace('sizeof(struct gunyah_fn_desc) == 16', 'sizeof(struct gunyah_fn_desc) == 24'));
    const r = spawnSync(hostCc!, ['-std=c11', '-DGT_NO_MAIN', `-DGT_EXPECTED="${bad}"`, '-c', source, '-o', join(work, 'bad.o')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('sizeof gunyah_fn_desc');
  });
});

describe.skipIf(crossCc === undefined)(`arm64 cross compiler (${crossCc ?? 'none: apt-get install gcc-aarch64-linux-gnu to run this'})`, () => {
  it('layouts.c compiles for aarch64 with every _Static_assert from the TypeScript tables', () => {
    const r = spawnSync(
      crossCc!,
      ['-std=c11', '-ffreestanding', '-DGT_NO_MAIN', `-DGT_EXPECTED="${join(work, 'expected.h')}"`, '-c', source, '-o', join(work, 'layouts-arm64.o')],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
