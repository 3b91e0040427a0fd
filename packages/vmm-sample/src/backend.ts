/**
 * Backend selection: a real `/dev/gunyah` (the native addon), the KVM emulator `@gunyah-ts/emu`
 * (loaded lazily, so a Gunyah device needs nothing else), or a binding injected by a library user
 * (tests inject `@gunyah-ts/sys/fake`).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import type { BindingModule } from '@gunyah-ts/sys';
import { ConfigError, type AbiChoice, type BackendChoice } from './config.js';
import type { Variant } from './plan.js';

/** What `emulatorAvailable()` answers. */
export type EmulatorAvailability =
  | {
      /** Usable. */
      readonly ok: true;
    }
  | {
      /** Not usable. */
      readonly ok: false;
      /** Why, for the user. */
      readonly reason: string;
    };

/** The parts of `@gunyah-ts/emu` the VMM uses (loaded with a dynamic import). */
export interface EmulatorModule {
  /** Whether this machine can run the emulator (arm64 Linux with a usable `/dev/kvm`). */
  emulatorAvailable(): EmulatorAvailability;
  /** A `/dev/gunyah` of the given variant over KVM. */
  createEmulator(options: { readonly variant: Variant }): EmulatorInstance;
  /** Formats RM trace entries, one line each (optional: entries are printed as JSON without it). */
  readonly formatRmTrace?: (entries: readonly never[]) => string;
}

/** An emulator instance: a `BindingModule` plus what a VMM needs besides. */
export type EmulatorInstance = BindingModule & {
  /** The variant it emulates. */
  readonly variant: Variant;
  /** Module specifier a vCPU worker imports to get its binding. */
  readonly workerBinding: string;
  /** The Resource Manager's message log (for `--verbose`). */
  readonly rmLog?: readonly unknown[];
  /** Release everything the emulator holds. */
  close(): void;
};

/** The backend a VMM runs on. */
export interface Backend {
  /** `gunyah`: the native addon on a real device; `emu`: the KVM emulator; `injected`: a caller's binding. */
  readonly kind: 'gunyah' | 'emu' | 'injected';
  /** The binding to pass to `Gunyah.open` (`undefined`: the native addon). */
  readonly binding: BindingModule | undefined;
  /** The variant to ask `Gunyah.open` for (`auto`: detect). */
  readonly variant: 'auto' | Variant;
  /** Worker-mode vCPU module for `VcpuRunner` (`undefined`: the runner's default for the binding). */
  readonly workerBinding: string | undefined;
  /** A one-line description for `--verbose`. */
  readonly description: string;
  /** The RM log lines (emulator only). */
  rmLog(): readonly string[];
  /** Release the backend (closes the emulator). Idempotent. */
  close(): void;
}

/** Options of {@link selectBackend} (all for tests and embedders). */
export interface SelectBackendOptions {
  /** Use this binding instead of choosing (e.g. `createFakeGunyah({ variant })`). */
  readonly binding?: BindingModule;
  /** File-existence check (default `fs.existsSync`). */
  readonly exists?: (path: string) => boolean;
  /** Loads the emulator (default: `import('@gunyah-ts/emu')`). */
  readonly importEmulator?: () => Promise<EmulatorModule>;
}

const EMU_PACKAGE = '@gunyah-ts/emu';

async function defaultImportEmulator(): Promise<EmulatorModule> {
  // A dynamic import keeps the emulator out of the static module graph (a Gunyah device never
  // loads it); a literal specifier lets the bundled CLI carry it as a chunk of its own.
  return (await import('@gunyah-ts/emu')) as unknown as EmulatorModule;
}

function rmLines(log: readonly unknown[] | undefined, format: EmulatorModule['formatRmTrace']): readonly string[] {
  if (log === undefined || log.length === 0) return [];
  if (format !== undefined) return format(log as readonly never[]).split('\n').filter((l) => l !== '');
  return log.map((x) => (typeof x === 'string' ? x : JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))));
}

const HOW_TO = 'run on a Gunyah host (/dev/gunyah), on arm64 Linux with KVM (--backend emu), or on x86 through the testbed (npm run demo)';

async function loadEmulator(importEmulator: () => Promise<EmulatorModule>): Promise<EmulatorModule | { reason: string }> {
  let mod: EmulatorModule;
  try {
    mod = await importEmulator();
  } catch (e) {
    return { reason: `${EMU_PACKAGE} cannot be loaded (${e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e)})` };
  }
  if (typeof mod.emulatorAvailable !== 'function' || typeof mod.createEmulator !== 'function') {
    return { reason: `${EMU_PACKAGE} has no createEmulator/emulatorAvailable (too old?)` };
  }
  const avail = mod.emulatorAvailable();
  if (!avail.ok) return { reason: avail.reason };
  return mod;
}

/**
 * Choose and open the backend. `auto`: `/dev/gunyah` (the `--device` path) when it exists, else the
 * emulator when this machine has arm64 KVM, else a `NO_BACKEND` error that lists the options.
 * With the emulator, `--abi auto` emulates variant C (the primary variant).
 *
 * @example
 * ```ts
 * const backend = await selectBackend('auto', 'auto', '/dev/gunyah');
 * using gunyah = Gunyah.open({ ...(backend.binding ? { binding: backend.binding } : {}), variant: backend.variant });
 * ```
 * @throws {ConfigError} NO_BACKEND (exit status 3)
 */
export async function selectBackend(choice: BackendChoice, abi: AbiChoice, device: string, options: SelectBackendOptions = {}): Promise<Backend> {
  const variant = abi === 'auto' ? 'auto' : abi;
  if (options.binding !== undefined) {
    return { kind: 'injected', binding: options.binding, variant, workerBinding: undefined, description: 'an injected binding', rmLog: () => [], close: () => {} };
  }
  const exists = options.exists ?? existsSync;
  const gunyah = (): Backend => ({
    kind: 'gunyah',
    binding: undefined,
    variant,
    workerBinding: undefined,
    description: `Gunyah at ${device}`,
    rmLog: () => [],
    close: () => {},
  });
  if (choice === 'gunyah') {
    if (!exists(device)) throw new ConfigError('NO_BACKEND', `--backend gunyah: ${device} does not exist; ${HOW_TO}`);
    return gunyah();
  }
  if (choice === 'auto' && exists(device)) return gunyah();
  const emu = await loadEmulator(options.importEmulator ?? defaultImportEmulator);
  if ('reason' in emu) {
    const why = choice === 'auto' ? `no ${device} and the emulator is unavailable: ${emu.reason}` : `the emulator is unavailable: ${emu.reason}`;
    throw new ConfigError('NO_BACKEND', `${why}; ${HOW_TO}`);
  }
  const v: Variant = variant === 'auto' ? 'C' : variant;
  let instance: EmulatorInstance;
  try {
    instance = emu.createEmulator({ variant: v });
  } catch (e) {
    throw new ConfigError('NO_BACKEND', `the emulator failed to start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let closed = false;
  return {
    kind: 'emu',
    binding: instance,
    variant: v,
    workerBinding: instance.workerBinding,
    description: `the ${EMU_PACKAGE} emulator (variant ${v}, on KVM)`,
    rmLog: () => rmLines(instance.rmLog, emu.formatRmTrace),
    close: () => {
      if (closed) return;
      closed = true;
      instance.close();
    },
  };
}
