/**
 * The reference VMM's configuration: what the command line (or a library user) asks for, parsed and
 * checked before anything is opened.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { formatSize, parseAddress, parseSize } from './size.js';

/** Where the VM runs: a real `/dev/gunyah`, the KVM emulator, or whichever this machine has. */
export type BackendChoice = 'auto' | 'gunyah' | 'emu';
/** Which `/dev/gunyah` ABI variant to use: detected, or forced. */
export type AbiChoice = 'auto' | 'A' | 'B' | 'C';
/** How much the VMM prints besides the guest console. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** Everything {@link parseCommandLine} can return as a configuration. */
export interface VmmConfig {
  /** Path of the arm64 kernel `Image` (uncompressed or gzip). */
  readonly kernel: string;
  /** Path of a VM devicetree blob; when absent the VMM generates one. */
  readonly dtb: string | undefined;
  /** Path of an initial ramdisk. */
  readonly initrd: string | undefined;
  /** Kernel command line (`/chosen/bootargs`); replaces the DTB's when given. */
  readonly cmdline: string | undefined;
  /** Guest RAM size in bytes. */
  readonly memSize: bigint;
  /** Guest-physical base of RAM (2 MiB aligned). */
  readonly base: bigint;
  /** Offset of the kernel's 2 MiB-aligned base from `base`. */
  readonly kernelOffset: bigint | undefined;
  /** Offset of the DTB window from `base`. */
  readonly dtbOffset: bigint | undefined;
  /** Offset of the initrd from `base`. */
  readonly initrdOffset: bigint | undefined;
  /** Bytes reserved for the DTB and the Resource Manager's overlay. */
  readonly dtbReserved: bigint | undefined;
  /** Number of vCPUs. */
  readonly cpus: number;
  /** Backend choice. */
  readonly backend: BackendChoice;
  /** ABI variant choice. */
  readonly abi: AbiChoice;
  /** Print the memory plan and the devicetree, start nothing. */
  readonly dryRun: boolean;
  /** Output level. */
  readonly verbosity: Verbosity;
  /** Restart the guest when it resets, instead of exiting. */
  readonly reboot: boolean;
  /** Path of the Gunyah device. */
  readonly device: string;
  /**
   * File-backed virtio-blk disks, in order (`/dev/vda`, `/dev/vdb`, …). Absent: none.
   */
  readonly disks?: readonly VirtioDiskConfig[];
  /**
   * Add a virtio-console (the guest's `/dev/hvc0`, output to the VMM's stdout) and a virtio-rng.
   * Absent: false for library configurations; the CLI sets it unless `--no-virtio` is given.
   */
  readonly virtio?: boolean;
}

/** One `--disk PATH[,ro]`. */
export interface VirtioDiskConfig {
  /** The disk image file (raw; its size in 512-byte sectors is the capacity). */
  readonly path: string;
  /** Offer the disk read-only: the guest's writes fail with an I/O error and the file is opened `O_RDONLY`. */
  readonly readOnly: boolean;
}

/** Codes of {@link ConfigError}. */
export type ConfigErrorCode =
  | 'USAGE'
  | 'MISSING_KERNEL'
  | 'BAD_SIZE'
  | 'BAD_ADDRESS'
  | 'BAD_CPUS'
  | 'BAD_CHOICE'
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  | 'BAD_IMAGE'
  | 'BAD_DTB'
  | 'DOES_NOT_FIT'
  | 'BAD_LAYOUT'
  | 'BAD_CMDLINE'
  | 'BAD_DISK'
  | 'NO_BACKEND';

/** A configuration the VMM cannot run: the CLI prints the message on one line and exits 2. */
export class ConfigError extends Error {
  /** Always `'ConfigError'`. */
  override readonly name = 'ConfigError';
  /** What is wrong. */
  readonly code: ConfigErrorCode;

  /**
   * @param code - what is wrong
   * @param message - one line for the user
   * @param options - standard error options (`cause`)
   */
  constructor(code: ConfigErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Defaults of the reference VMM. */
export const DEFAULTS = {
  /** 256 MiB of RAM. */
  memSize: 256n << 20n,
  /** RAM at 0x8000_0000, as the Linux Gunyah sample VMM. */
  base: 0x8000_0000n,
  /** One vCPU. */
  cpus: 1,
  /** The Gunyah device node. */
  device: '/dev/gunyah',
} as const;

/** The most vCPUs the generated devicetree and the emulator's GIC layout support. */
export const MAX_CPUS = 64;

/** Usage text of `vmm-sample --help`. */
export const USAGE = `Usage: vmm-sample --kernel Image [options]

Boots an arm64 Linux guest on Gunyah (/dev/gunyah), or on arm64 Linux with KVM through the
@gunyah-ts/emu emulator. The guest console is the 8250 UART at 0x3f8 (stdin/stdout);
press Ctrl-A x to quit.

Options:
  -i, --kernel PATH         arm64 kernel Image (uncompressed or gzip)          [required]
  -d, --dtb PATH            VM devicetree blob; generated when left out
  -r, --initrd PATH         initial ramdisk
      --cmdline TEXT        kernel command line (replaces /chosen/bootargs)
      --mem SIZE            guest RAM, e.g. 256M, 1G, 0x10000000                [256M]
      --base ADDR           guest-physical RAM base (2 MiB aligned)             [0x80000000]
      --kernel-offset OFF   kernel's 2 MiB-aligned base, from --base            [0]
      --dtb-offset OFF      DTB window, from --base                             [top of RAM]
      --initrd-offset OFF   initrd, from --base                                 [below the DTB]
      --dtb-reserve SIZE    room for the DTB and the RM overlay                 [64K]
      --cpus N              number of vCPUs (1-${MAX_CPUS})                            [1]
      --backend KIND        auto | gunyah | emu                                 [auto]
      --abi VARIANT         auto | A | B | C (the /dev/gunyah ABI)              [auto]
      --device PATH         Gunyah device node                                  [/dev/gunyah]
      --reboot              restart the guest when it resets (default: exit)
      --disk PATH[,ro]      virtio-blk disk from a raw image file (repeatable: /dev/vda,
                            /dev/vdb, …); ",ro" offers it read-only
      --no-virtio           leave out the virtio-console (/dev/hvc0, output to stdout)
                            and the virtio-rng that are otherwise always added
      --dry-run             print the memory plan and the devicetree, start nothing
  -v, --verbose             print each setup step and exit details
  -q, --quiet               print nothing but the guest console and errors
  -h, --help                this text
      --version             the package version

Examples:
  vmm-sample --kernel Image --dtb vm.dtb
  vmm-sample -i Image -r initrd.cpio --cmdline "console=ttyS0 rdinit=/init" --mem 512M --cpus 2
  vmm-sample -i Image --dry-run --backend emu --abi B
  vmm-sample -i Image -r initrd.cpio --disk rootfs.ext4 --disk data.img,ro

Exit status: 0 guest powered off; 2 bad usage or input; 3 no usable backend; 4 guest crashed
or failed to load; 5 guest reset (without --reboot); 130 interrupted.
`;

/** What the command line asks for. */
export type CommandLine =
  | {
      /** Print {@link USAGE}. */
      readonly kind: 'help';
    }
  | {
      /** Print the version. */
      readonly kind: 'version';
    }
  | {
      /** Run a VM. */
      readonly kind: 'run';
      /** The configuration. */
      readonly config: VmmConfig;
    };

function size(text: string | undefined, flag: string): bigint | undefined {
  if (text === undefined) return undefined;
  const v = parseSize(text);
  if (v === undefined) throw new ConfigError('BAD_SIZE', `${flag} ${JSON.stringify(text)} is not a size (e.g. 256M, 1G, 0x10000000)`);
  return v;
}

function address(text: string | undefined, flag: string): bigint | undefined {
  if (text === undefined) return undefined;
  const v = parseAddress(text);
  if (v === undefined) throw new ConfigError('BAD_ADDRESS', `${flag} ${JSON.stringify(text)} is not an address (decimal or 0x hex)`);
  return v;
}

function choice<T extends string>(text: string | undefined, flag: string, allowed: readonly T[], dflt: T): T {
  if (text === undefined) return dflt;
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new ConfigError('BAD_CHOICE', `${flag} must be one of ${allowed.join(', ')}, not ${JSON.stringify(text)}`);
}

/**
 * Parse `vmm-sample` arguments (without `node` and the script). Unknown flags, missing values and
 * stray positional arguments are `USAGE` errors; values are checked for syntax and range here;
 * files are checked when the VMM opens them.
 *
 * @example
 * ```ts
 * const cl = parseCommandLine(['--kernel', 'Image', '--mem', '512M']);
 * if (cl.kind === 'run') console.log(cl.config.memSize); // 536870912n
 * ```
 * @throws {ConfigError} USAGE, MISSING_KERNEL, BAD_SIZE, BAD_ADDRESS, BAD_CPUS, BAD_CHOICE, DOES_NOT_FIT, BAD_DISK
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        kernel: { type: 'string', short: 'i' },
        dtb: { type: 'string', short: 'd' },
        initrd: { type: 'string', short: 'r' },
        cmdline: { type: 'string' },
        mem: { type: 'string' },
        base: { type: 'string' },
        'kernel-offset': { type: 'string' },
        'dtb-offset': { type: 'string' },
        'initrd-offset': { type: 'string' },
        'dtb-reserve': { type: 'string' },
        cpus: { type: 'string' },
        backend: { type: 'string' },
        abi: { type: 'string' },
        device: { type: 'string' },
        reboot: { type: 'boolean' },
        disk: { type: 'string', multiple: true },
        'no-virtio': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    // node:util reports unknown options, missing values and positionals; keep its first line.
    const msg = e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
    throw new ConfigError('USAGE', `${msg} (see vmm-sample --help)`, { cause: e });
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  if (v.kernel === undefined || v.kernel === '') throw new ConfigError('MISSING_KERNEL', 'no kernel given: use --kernel PATH (see vmm-sample --help)');
  if (v.verbose && v.quiet) throw new ConfigError('USAGE', '--verbose and --quiet cannot be combined');

  let cpus: number = DEFAULTS.cpus;
  if (v.cpus !== undefined) {
    cpus = /^[0-9]+$/.test(v.cpus) ? Number(v.cpus) : NaN;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new ConfigError('BAD_CPUS', `--cpus must be a whole number from 1 to ${MAX_CPUS}, not ${JSON.stringify(v.cpus)}`);
  }
  const memSize = size(v.mem, '--mem') ?? DEFAULTS.memSize;
  const base = address(v.base, '--base') ?? DEFAULTS.base;
  if (memSize < 2n << 20n) throw new ConfigError('DOES_NOT_FIT', `--mem ${formatSize(memSize)} is too small: a Linux guest needs at least 2 MiB (and usually 64 MiB or more)`);
  if (base % (2n << 20n) !== 0n) throw new ConfigError('BAD_ADDRESS', `--base 0x${base.toString(16)} is not 2 MiB aligned`);
  if (base + memSize > 1n << 48n) throw new ConfigError('DOES_NOT_FIT', `RAM 0x${base.toString(16)}+${formatSize(memSize)} ends beyond the 48-bit guest address space`);
  if ((v.disk?.length ?? 0) > MAX_DISKS) throw new ConfigError('BAD_DISK', `at most ${MAX_DISKS} --disk options`);

  return {
    kind: 'run',
    config: {
      kernel: v.kernel,
      dtb: v.dtb,
      initrd: v.initrd,
      cmdline: v.cmdline,
      memSize,
      base,
      kernelOffset: address(v['kernel-offset'], '--kernel-offset'),
      dtbOffset: address(v['dtb-offset'], '--dtb-offset'),
      initrdOffset: address(v['initrd-offset'], '--initrd-offset'),
      dtbReserved: size(v['dtb-reserve'], '--dtb-reserve'),
      cpus,
      backend: choice(v.backend, '--backend', ['auto', 'gunyah', 'emu'] as const, 'auto'),
      abi: choice(v.abi, '--abi', ['auto', 'A', 'B', 'C'] as const, 'auto'),
      dryRun: v['dry-run'] ?? false,
      verbosity: v.verbose ? 'verbose' : v.quiet ? 'quiet' : 'normal',
      reboot: v.reboot ?? false,
      device: v.device ?? DEFAULTS.device,
      disks: (v.disk ?? []).map(parseDiskSpec),
      virtio: !(v['no-virtio'] ?? false),
    },
  };
}

/** The most `--disk` options (each takes a virtio-mmio window and an SPI). */
export const MAX_DISKS = 16;

/**
 * Parse one `--disk` value: `PATH` or `PATH,ro` (also `PATH,rw`, the default). A path cannot itself
 * end in `,ro`/`,rw` or contain a comma followed by anything else (that is an unknown option).
 *
 * @example
 * ```ts
 * parseDiskSpec('disk.img,ro'); // { path: 'disk.img', readOnly: true }
 * ```
 * @throws {ConfigError} BAD_DISK for an empty path or an unknown option after the comma
 */
export function parseDiskSpec(text: string): VirtioDiskConfig {
  const comma = text.lastIndexOf(',');
  let path = text;
  let readOnly = false;
  if (comma >= 0) {
    const opt = text.slice(comma + 1);
    if (opt !== 'ro' && opt !== 'rw') throw new ConfigError('BAD_DISK', `--disk ${JSON.stringify(text)}: unknown option ${JSON.stringify(opt)} (use PATH or PATH,ro)`);
    path = text.slice(0, comma);
    readOnly = opt === 'ro';
  }
  if (path === '') throw new ConfigError('BAD_DISK', `--disk ${JSON.stringify(text)}: no path`);
  return { path, readOnly };
}
