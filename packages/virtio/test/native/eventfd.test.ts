import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { close, eventfd, eventfdRead, eventfdWrite, nativeBindingAvailable, sysConstants } from '@gunyah-ts/sys';
import { describe, expect, it } from 'vitest';
import { DATA, makeMemory, probe, type DriverQueue } from '../helpers/driver.js';
import { VIRTQ_DESC_F } from '../../src/constants.js';
import { VirtioRng } from '../../src/devices/rng.js';
import { EventfdListener, irqfdTrigger } from '../../src/eventfd.js';
import { VirtioMmioTransport } from '../../src/transport.js';

const built = existsSync(new URL('../../dist/eventfd-worker.js', import.meta.url));
const ready = nativeBindingAvailable() && built;

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error('timed out'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

describe.skipIf(!ready)('EventfdListener (needs the @gunyah-ts/sys addon and `npx tsc -b` here)', () => {
  it('close() of an unref\'d listener resolves even when nothing else keeps the event loop alive', () => {
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const script = `
      const { eventfd } = await import('@gunyah-ts/sys');
      const { EventfdListener } = await import(${JSON.stringify(dist)});
      const l = new EventfdListener([{ fd: eventfd(0, 0), onEvent: () => {} }]);
      await l.close();
      console.log('closed');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('closed\n');
    expect(r.status).toBe(0);
  });

  it('turns eventfd writes into main-thread callbacks and stops cleanly', async () => {
    const fd = eventfd(0, 0);
    const nb = eventfd(0, sysConstants().EFD_NONBLOCK);
    const seen: bigint[] = [];
    const seenNb: bigint[] = [];
    const l = new EventfdListener([
      { fd, onEvent: (c) => seen.push(c) },
      { fd: nb, onEvent: (c) => seenNb.push(c) },
    ]);
    eventfdWrite(fd, 3n);
    await until(() => seen.length === 1);
    eventfdWrite(nb, 2n);
    await until(() => seenNb.length === 1);
    expect(seen).toEqual([3n]);
    expect(seenNb).toEqual([2n]);
    await l.close();
    await l.close();
    close(fd);
    close(nb);
  });

  it('drives a device from an ioeventfd and interrupts through an irqfd', async () => {
    const notifyFd = eventfd(0, 0);
    const irqfd = eventfd(0, sysConstants().EFD_NONBLOCK);
    const mem = makeMemory();
    const t = new VirtioMmioTransport(new VirtioRng(), { memory: mem, trigger: irqfdTrigger(irqfd) });
    const [q] = probe(t, mem) as [DriverQueue];
    const l = new EventfdListener([{ fd: notifyFd, onEvent: () => t.notify(0) }]);
    q.push(q.chain(0, [{ addr: DATA, len: 32, flags: VIRTQ_DESC_F.WRITE }]));
    eventfdWrite(notifyFd, 1n); // what the kernel does for the guest's QueueNotify write
    await until(() => q.usedIdx === 1);
    expect(q.takeUsed()).toEqual([{ id: 0, len: 32 }]);
    expect(eventfdRead(irqfd)).toBe(1n);
    await l.close();
    close(notifyFd);
    close(irqfd);
  });

  it('reports a worker that cannot read its fd and still closes', async () => {
    const fd = openSync('/dev/null', 'r'); // read(2) gives 0 bytes: not an eventfd
    const errors: string[] = [];
    const l = new EventfdListener([{ fd, onEvent: () => {} }], { onError: (e) => errors.push(e.code) });
    await until(() => errors.length === 1);
    expect(errors).toEqual(['DEVICE_ERROR']);
    await l.close();
    closeSync(fd);
  });

  it('refuses bad fds', () => {
    expect(() => new EventfdListener([{ fd: -1, onEvent: () => {} }])).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});
