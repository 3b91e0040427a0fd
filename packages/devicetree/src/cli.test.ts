import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { buildGunyahVmDt } from './gunyah.js';
import { buildOverlay } from './overlay.js';
import { parseDtb } from './parser.js';
import { serializeDtb } from './serialize.js';
import { FdtNode, FdtProperty } from './tree.js';

const dir = mkdtempSync(join(tmpdir(), 'gunyah-fdt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, data?: Uint8Array): string => {
  const p = join(dir, name);
  if (data !== undefined) writeFileSync(p, data);
  return p;
};

function run(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const good = buildGunyahVmDt().dtb;

describe('gunyah-fdt', () => {
  it('--help prints usage, exit 0', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: gunyah-fdt/);
  });
  it.each([[[]], [['frob', 'x']], [['dts']], [['rewrite', 'a']], [['apply', 'a', 'b']], [['dts', '--bogus', 'x']], [['dts', 'x', '--gunyah']]])(
    'bad usage %j -> one line, exit 2',
    (argv) => {
      const r = run(...argv);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
    },
  );
  it('dts prints DTS text', () => {
    const r = run('dts', file('good.dtb', good));
    expect(r.code).toBe(0);
    expect(r.out).toContain('gunyah-vm-config {');
    expect(r.out).toContain('\t\tmethod = "hvc";');
  });
  it('check: ok, typed error with exit 1, and --gunyah rules', () => {
    expect(run('check', file('good.dtb', good))).toMatchObject({ code: 0, out: expect.stringContaining(': ok') });
    const bad = new Uint8Array(good);
    bad[0] = 0;
    const r = run('check', file('bad.dtb', bad));
    expect(r.code).toBe(1);
    expect(r.err).toContain('BAD_MAGIC');
    expect(run('check', '--gunyah', file('good.dtb'))).toMatchObject({ code: 0 });
    const hyp = serializeDtb(parseDtb(good).update('/', (n) => n.withChild(new FdtNode('hypervisor')))!);
    const h = run('check', '--gunyah', file('hyp.dtb', hyp));
    expect(h.code).toBe(1);
    expect(h.err).toContain('NO_HYPERVISOR_NODE');
    const missing = run('dts', join(dir, 'missing.dtb'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('ENOENT');
  });
  it('rewrite re-serializes', () => {
    const out = file('out.dtb');
    expect(run('rewrite', file('good.dtb', good), out).code).toBe(0);
    expect(new Uint8Array(readFileSync(out))).toEqual(good);
  });
  it('apply applies an overlay', () => {
    const ov = serializeDtb(buildOverlay([{ target: '/chosen', node: new FdtNode('', [FdtProperty.u64('kaslr-seed', 7n)]) }]));
    const out = file('applied.dtb');
    expect(run('apply', file('good.dtb', good), file('ov.dtbo', ov), out).code).toBe(0);
    expect(parseDtb(readFileSync(out)).findNode('/chosen')?.u64('kaslr-seed')).toBe(7n);
    const badOv = serializeDtb(buildOverlay([{ target: '/nope', node: new FdtNode('') }]));
    const r = run('apply', file('good.dtb'), file('bad.dtbo', badOv), out);
    expect(r.code).toBe(1);
    expect(r.err).toContain('TARGET_NOT_FOUND');
  });
});
