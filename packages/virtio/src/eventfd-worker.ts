/**
 * Worker body of {@link EventfdListener}: blocks in `read(2)` (or `poll(2)` for a non-blocking fd) on
 * one eventfd and posts each counter value to the main thread. Not an entry point.
 *
 * @module
 * @internal
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrnoError, eventfdRead, poll, sysConstants } from '@gunyah-ts/sys';

const { fd, stop } = workerData as { fd: number; stop: Int32Array };
const port = parentPort;
if (port === null) throw new Error('eventfd-worker must run in a worker thread');
const POLLIN = sysConstants().POLLIN;

for (;;) {
  let count: bigint;
  try {
    count = eventfdRead(fd);
  } catch (e) {
    if (e instanceof ErrnoError && e.code === 'EINTR') continue;
    if (e instanceof ErrnoError && e.code === 'EAGAIN') {
      if (Atomics.load(stop, 0) !== 0) break;
      try {
        poll(fd, POLLIN, -1);
      } catch (pe) {
        if (!(pe instanceof ErrnoError && pe.code === 'EINTR')) {
          port.postMessage({ error: pe instanceof Error ? pe.message : String(pe), code: pe instanceof ErrnoError ? pe.code : undefined });
          break;
        }
      }
      continue;
    }
    port.postMessage({ error: e instanceof Error ? e.message : String(e), code: e instanceof ErrnoError ? e.code : undefined });
    break;
  }
  if (Atomics.load(stop, 0) !== 0) break;
  port.postMessage({ count });
}
