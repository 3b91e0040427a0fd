#!/usr/bin/env node
// Bundles the `vmm-sample` command (dist/bin/cli.js and everything it imports from the workspace
// packages) into dist/bundle/: one file for the command and one chunk for the lazily loaded
// emulator. Starting the command then reads 3 modules instead of ~100: on an emulated arm64 CPU
// (the testbed) that saves over a second of ES module loading (see README "Benchmarks").
//
// `import.meta.url` would name the bundle instead of the module it was written in, so every use is
// replaced by that module's own URL, found at run time from its package
// (`import.meta.resolve('<package>/package.json')`): the addon, worker and package.json paths stay
// those of the installed packages, in the workspace and in node_modules alike.
//
// usage: node scripts/bundle.mjs (after `tsc -b`)
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(pkgDir, 'dist', 'bundle');

/** The package a file belongs to: its name and the file's path inside it (posix). */
function owner(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof pkg.name === 'string') return { name: pkg.name, sub: relative(dir, file).split(sep).join('/') };
    } catch {
      // no package.json here
    }
  }
  throw new Error(`bundle: ${file} is in no package`);
}

const moduleUrls = {
  name: 'module-urls',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes('import.meta.url')) return undefined;
      const { name, sub } = owner(args.path);
      return { contents: src.replaceAll('import.meta.url', `__moduleUrl(${JSON.stringify(name)}, ${JSON.stringify(sub)})`), loader: 'js' };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { 'vmm-sample': join(pkgDir, 'dist', 'bin', 'cli.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: '[name]-[hash]',
  plugins: [moduleUrls],
  banner: {
    js: "const __moduleUrl = (p, sub) => new URL(sub, import.meta.resolve(p + '/package.json')).href;",
  },
  logLevel: 'warning',
  metafile: true,
});
const inputs = Object.keys(result.metafile.inputs).length;
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
process.stderr.write(`bundle: ${inputs} modules → ${outputs.map(([f, o]) => `${relative(pkgDir, f)} (${(o.bytes / 1024).toFixed(0)} KiB)`).join(', ')}\n`);
