#!/usr/bin/env node
// npm run bench -w @gunyah-ts/testbed [-- --rounds N]
// Boots the host with `-cpu neoverse-n1` (ours, HOST_CPU) and with `-cpu max,pauth-impdef=on` and
// plain `-cpu max` (references), alternating, and runs `node -e 0` in it; prints medians and ratios.
import { parseArgs } from 'node:util';
import { prepare } from '../prepare.js';
import { HOST_CPU, runInHost } from '../qemu.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
const rounds = Math.max(1, Math.min(10, Number(values.rounds ?? 3)));
const manifest = await prepare({ skipAddon: true });
const configs = [HOST_CPU, 'max,pauth-impdef=on', 'max'] as const;
const samples = new Map<string, { boot: number[]; node: number[] }>(configs.map((c) => [c, { boot: [], node: [] }]));
for (let i = 0; i < rounds; i++) {
  for (const cpu of configs) {
    process.env['GUNYAH_TESTBED_QEMU_CPU'] = cpu;
    const r = await runInHost(manifest, { command: ['node', '-e', '0'], log: () => {}, onOutput: () => {} });
    if (r.exitCode !== 0) throw new Error(`node -e 0 exited ${r.exitCode}`);
    samples.get(cpu)?.boot.push(r.bootMs);
    samples.get(cpu)?.node.push(r.commandMs);
    process.stderr.write(`round ${i + 1} -cpu ${cpu}: boot ${r.bootMs} ms, node -e 0 ${r.commandMs} ms\n`);
  }
}
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const [ours, ...refs] = configs.map((c) => samples.get(c) ?? { boot: [], node: [] });
if (ours !== undefined) {
  process.stdout.write(`| -cpu | boot to ready (median ms) | node -e 0 (median ms) |\n| --- | --- | --- |\n`);
  for (const c of configs) {
    const s = samples.get(c);
    if (s !== undefined) process.stdout.write(`| ${c} | ${median(s.boot)} | ${median(s.node)} |\n`);
  }
  refs.forEach((ref, i) => {
    process.stdout.write(`ratio (${configs[i + 1]} / ${HOST_CPU}): boot ${(median(ref.boot) / median(ours.boot)).toFixed(2)}x, node -e 0 ${(median(ref.node) / median(ours.node)).toFixed(2)}x (${rounds} rounds)\n`);
  });
}
