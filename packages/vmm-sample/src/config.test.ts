import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, USAGE, parseCommandLine, type VmmConfig } from './config.js';

function code(argv: string[]): string | undefined {
  try {
    parseCommandLine(argv);
  } catch (e) {
    return e instanceof ConfigError ? e.code : `other: ${String(e)}`;
  }
  return undefined;
}
const run = (argv: string[]): VmmConfig => {
  const r = parseCommandLine(argv);
  if (r.kind !== 'run') throw new Error(r.kind);
  return r.config;
};

describe('parseCommandLine', () => {
  it('needs only a kernel and fills the documented defaults', () => {
    const c = run(['--kernel', 'Image']);
    expect(c).toMatchObject({ kernel: 'Image', dtb: undefined, memSize: DEFAULTS.memSize, base: 0x80000000n, cpus: 1, backend: 'auto', abi: 'auto', dryRun: false, verbosity: 'normal', reboot: false, device: '/dev/gunyah' });
  });

  it('parses every option, long and short', () => {
    const c = run(['-i', 'I', '-d', 'vm.dtb', '-r', 'rd', '--cmdline', 'console=ttyS0', '--mem', '1G', '--base', '0x40000000', '--kernel-offset', '0x200000', '--dtb-offset', '0x3fe00000', '--initrd-offset', '0x1000000', '--dtb-reserve', '128K', '--cpus', '4', '--backend', 'emu', '--abi', 'B', '--device', '/dev/x', '--reboot', '--dry-run', '-v']);
    expect(c).toEqual({
      kernel: 'I', dtb: 'vm.dtb', initrd: 'rd', cmdline: 'console=ttyS0', memSize: 1n << 30n, base: 0x40000000n,
      kernelOffset: 0x200000n, dtbOffset: 0x3fe00000n, initrdOffset: 0x1000000n, dtbReserved: 128n << 10n,
      cpus: 4, backend: 'emu', abi: 'B', dryRun: true, verbosity: 'verbose', reboot: true, device: '/dev/x', disks: [], virtio: true,
    });
    expect(run(['-i', 'I', '-q']).verbosity).toBe('quiet');
  });

  it('answers --help and --version before checking anything else', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['-h', '--mem', 'nonsense'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
    expect(USAGE).toContain('--kernel');
    expect(USAGE).toContain('Examples:');
  });

  it('gives one typed error per kind of bad input', () => {
    expect(code([])).toBe('MISSING_KERNEL');
    expect(code(['--kernel'])).toBe('USAGE');
    expect(code(['--kernal', 'x'])).toBe('USAGE');
    expect(code(['-i', 'x', 'stray'])).toBe('USAGE');
    expect(code(['-i', 'x', '-v', '-q'])).toBe('USAGE');
    expect(code(['-i', 'x', '--mem', '12Q'])).toBe('BAD_SIZE');
    expect(code(['-i', 'x', '--mem', '1M'])).toBe('DOES_NOT_FIT');
    expect(code(['-i', 'x', '--base', 'zero'])).toBe('BAD_ADDRESS');
    expect(code(['-i', 'x', '--base', '0x80001000'])).toBe('BAD_ADDRESS');
    expect(code(['-i', 'x', '--base', '0xffffffffffe00000'])).toBe('DOES_NOT_FIT');
    expect(code(['-i', 'x', '--cpus', '0'])).toBe('BAD_CPUS');
    expect(code(['-i', 'x', '--cpus', '65'])).toBe('BAD_CPUS');
    expect(code(['-i', 'x', '--cpus', '1.5'])).toBe('BAD_CPUS');
    expect(code(['-i', 'x', '--backend', 'kvm'])).toBe('BAD_CHOICE');
    expect(code(['-i', 'x', '--abi', 'D'])).toBe('BAD_CHOICE');
    expect(code(['-i', 'x', '--dtb-offset', '1M'])).toBe('BAD_ADDRESS');
  });

  it('error messages are one line and name the flag', () => {
    for (const argv of [['--kernal', 'x'], ['-i', 'x', '--mem', 'lots'], ['-i', 'x', '--abi', 'Z']]) {
      try {
        parseCommandLine(argv);
        expect.unreachable();
      } catch (e) {
        const m = (e as Error).message;
        expect(m).not.toContain('\n');
        expect(m).toMatch(/--(kernal|mem|abi)/);
      }
    }
  });

  it('never throws anything but ConfigError on random argument lists', () => {
    const token = fc.oneof(fc.constantFrom('-i', '--kernel', '--mem', '--cpus', '--abi', '--backend', '-d', '--base', '--dry-run', '-v', '-q', '--', '-x'), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(token, { maxLength: 10 }), (argv) => {
        const c = code(argv);
        expect(c === undefined || !c.startsWith('other')).toBe(true);
      }),
    );
  });
});
