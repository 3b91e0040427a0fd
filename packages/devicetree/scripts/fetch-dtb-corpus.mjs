#!/usr/bin/env node
// Locates (and if needed fetches once) a corpus of real-world DTBs: the .dtb files that
// Debian ships in its arm64 kernel package. Used by the corpus test and the benchmark.
//
// Order of preference:
//   1. $GUNYAH_DTB_CORPUS (a directory; every *.dtb below it is used)
//   2. /usr/lib/linux-image-*/ on this machine
//   3. packages/devicetree/.cache/dtb-corpus (a previous fetch)
//   4. fetch the newest bookworm linux-image-6.1.0-*-arm64 .deb with a private apt
//      configuration (arm64 architecture, own state/cache under .cache/), extract its DTBs
//      into .cache/dtb-corpus.
//
// As a module: `import { locateCorpus } from './fetch-dtb-corpus.mjs'` →
//   { dir, files: string[], source } or { dir: null, files: [], reason }.
// As a script: `node scripts/fetch-dtb-corpus.mjs` prints what it found (exit 1 if nothing).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Package root (packages/devicetree). */
export const packageRoot = resolve(here, '..');
/** Cache root for apt state and the extracted corpus. */
export const cacheRoot = join(packageRoot, '.cache');
const corpusDir = join(cacheRoot, 'dtb-corpus');

/** Every *.dtb under dir, sorted, with a bound on the walk. */
export function listDtbs(dir, limit = 20000) {
  const out = [];
  const stack = [dir];
  while (stack.length > 0 && out.length < limit) {
    const d = stack.pop();
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && e.name.endsWith('.dtb')) out.push(p);
    }
  }
  return out.sort();
}

function fromSystem() {
  let names;
  try {
    names = readdirSync('/usr/lib').filter((n) => n.startsWith('linux-image-'));
  } catch {
    return [];
  }
  const files = [];
  for (const n of names) files.push(...listDtbs(join('/usr/lib', n)));
  return files;
}

function aptConf() {
  const apt = join(cacheRoot, 'apt');
  for (const d of ['state/lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d', 'etc/apt.conf.d', 'debs']) {
    mkdirSync(join(apt, d), { recursive: true });
  }
  const status = join(apt, 'state/status');
  if (!existsSync(status)) writeFileSync(status, '');
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  const signed = existsSync(keyring) ? ` signed-by=${keyring}` : '';
  writeFileSync(join(apt, 'etc/sources.list'), `deb [arch=arm64${signed}] http://deb.debian.org/debian bookworm main\n`);
  const conf = join(apt, 'apt.conf');
  writeFileSync(
    conf,
    [
      'APT::Architecture "arm64";',
      'APT::Architectures { "arm64"; };',
      `Dir::State "${apt}/state";`,
      `Dir::State::status "${status}";`,
      `Dir::Cache "${apt}/cache";`,
      `Dir::Etc::SourceList "${apt}/etc/sources.list";`,
      `Dir::Etc::SourceParts "${apt}/etc/sources.list.d";`,
      `Dir::Etc::Preferences "${apt}/etc/preferences";`,
      `Dir::Etc::PreferencesParts "${apt}/etc/preferences.d";`,
      `Dir::Etc::Parts "${apt}/etc/apt.conf.d";`,
      'Acquire::Languages "none";',
      'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";',
      '',
    ].join('\n'),
  );
  return { apt, conf };
}

/** Compares Debian ABI numbers in linux-image-6.1.0-N-arm64 names. */
function abiOf(name) {
  const m = /^linux-image-6\.1\.0-(\d+)-arm64$/.exec(name);
  return m ? Number(m[1]) : -1;
}

function fetchDeb(log) {
  const { apt, conf } = aptConf();
  const run = (cmd, args, opts = {}) =>
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5 * 60_000, ...opts });
  log('apt-get update (private arm64 configuration)');
  run('apt-get', ['-c', conf, 'update']);
  const names = run('apt-cache', ['-c', conf, 'pkgnames', 'linux-image-6.1.0-'])
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => abiOf(s) >= 0)
    .sort((a, b) => abiOf(b) - abiOf(a));
  const pkg = names[0];
  if (pkg === undefined) throw new Error('no linux-image-6.1.0-*-arm64 package in the arm64 index');
  const debs = join(apt, 'debs');
  log(`apt-get download ${pkg}`);
  run('apt-get', ['-c', conf, 'download', pkg], { cwd: debs });
  const deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (deb === undefined) throw new Error(`download of ${pkg} left no .deb`);
  const tmp = join(cacheRoot, 'extract.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`dpkg-deb -x ${deb}`);
  run('dpkg-deb', ['-x', join(debs, deb), tmp]);
  const found = listDtbs(join(tmp, 'usr/lib'));
  if (found.length === 0) throw new Error(`${deb} contains no .dtb files`);
  rmSync(corpusDir, { recursive: true, force: true });
  mkdirSync(corpusDir, { recursive: true });
  // Keep only the DTBs, with their vendor sub-directories.
  const libDir = readdirSync(join(tmp, 'usr/lib')).find((n) => n.startsWith('linux-image-'));
  renameSync(join(tmp, 'usr/lib', libDir), join(corpusDir, libDir));
  rmSync(tmp, { recursive: true, force: true });
  rmSync(join(debs, deb), { force: true });
  writeFileSync(join(corpusDir, 'SOURCE'), `${deb}\n`);
  return listDtbs(corpusDir);
}

/**
 * Finds the corpus; fetches it when allowed and nothing local exists.
 * @param {{ fetch?: boolean, log?: (s: string) => void }} [opts]
 */
export function locateCorpus(opts = {}) {
  const log = opts.log ?? (() => {});
  const env = process.env.GUNYAH_DTB_CORPUS;
  if (env) {
    const files = existsSync(env) && statSync(env).isDirectory() ? listDtbs(env) : [];
    return files.length > 0
      ? { dir: env, files, source: 'GUNYAH_DTB_CORPUS' }
      : { dir: null, files: [], reason: `GUNYAH_DTB_CORPUS=${env} holds no .dtb files` };
  }
  const sys = fromSystem();
  if (sys.length > 0) return { dir: '/usr/lib', files: sys, source: 'installed linux-image' };
  const cached = existsSync(corpusDir) ? listDtbs(corpusDir) : [];
  if (cached.length > 0) return { dir: corpusDir, files: cached, source: 'cache' };
  if (opts.fetch === false) return { dir: null, files: [], reason: 'no corpus cached and fetching disabled' };
  try {
    const files = fetchDeb(log);
    return { dir: corpusDir, files, source: 'fetched' };
  } catch (e) {
    const msg = e && typeof e === 'object' && 'stderr' in e && e.stderr ? String(e.stderr).trim().split('\n').slice(-2).join(' ') : String(e);
    return { dir: null, files: [], reason: `could not fetch the Debian arm64 kernel DTBs: ${msg}` };
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = locateCorpus({ log: (s) => console.error(`fetch-dtb-corpus: ${s}`) });
  if (r.dir === null) {
    console.error(`fetch-dtb-corpus: ${r.reason}`);
    process.exit(1);
  }
  console.log(`${r.files.length} DTBs from ${r.source} (${r.dir})`);
}
