// The README's Appendix B script must run against the fake and show each variant's call sequence.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../examples/appendix-b.mjs', import.meta.url));
const built =
  existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url))) &&
  existsSync(fileURLToPath(new URL('../../gunyah-sys/dist/fake/index.js', import.meta.url)));

describe.skipIf(!built)(`examples/appendix-b.mjs${built ? '' : ' (skipped: run `npx tsc -b` in packages/gunyah-ioctls first)'}`, () => {
  it('prints the Appendix B sequence of A, B and C in order', () => {
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
    const section = (v: string): string => out.split(`== variant ${v} ==`)[1]?.split('== variant')[0] ?? '';
    const order = (text: string, names: string[]): void => {
      let at = -1;
      for (const n of names) {
        const i = text.indexOf(n, at + 1);
        expect(i, `${n} after position ${at}`).toBeGreaterThan(at);
        at = i;
      }
    };
    order(section('A'), ['GH_CREATE_VM', 'GH_VM_SET_USER_MEM_REGION', 'GH_VM_SET_DTB_CONFIG', 'GH_VM_ADD_FUNCTION', 'GH_VM_START', 'GH_VCPU_RUN']);
    expect(section('A')).not.toContain('  ioctl(5, GH_VM_SET_BOOT_CONTEXT');
    order(section('B'), [
      'GUNYAH_CREATE_VM',
      'GUNYAH_CREATE_GUEST_MEM',
      'munmap',
      'GUNYAH_VM_MAP_MEM',
      'GUNYAH_VM_SET_DTB_CONFIG',
      'GUNYAH_VM_SET_BOOT_CONTEXT',
      'GUNYAH_VM_ADD_FUNCTION',
      'GUNYAH_VM_START',
      'GUNYAH_VCPU_RUN',
    ]);
    order(section('C'), ['GH_VM_SET_USER_MEM_REGION', 'GUNYAH_VM_SET_DTB_CONFIG', 'GUNYAH_VM_SET_BOOT_CONTEXT', 'GUNYAH_VM_START', 'GUNYAH_VCPU_RUN']);
    for (const v of ['A', 'B', 'C']) expect(section(v)).toContain('guest UART output: "Hi"; ioeventfd counter: 1; doorbells: [[1,1]]; vCPU 0 ended with shutdown');
  });
});
