/**
 * The shared-memory slot between a vCPU worker and the main thread (STYLE §8).
 *
 * Layout of the 64-byte `SharedArrayBuffer` (Int32 indexes / byte offsets):
 * - i32[0] `state`: 0 = worker running, 1 = request waiting for the main thread, 2 = worker finished
 * - i32[1] `stop`: 1 once the main thread asked the worker to stop
 * - i32[2] `kind`: 1 = MMIO access, 2 = other exit (details posted as a message)
 * - i32[3] `len`, i32[4] `isWrite`
 * - i32[5] `answer`: MMIO 0 = handled / 1 = unhandled; exit 0 = continue / 1 = stop
 * - bytes 32–39 `addr` (u64), bytes 40–47 `data` (u64)
 *
 * @internal
 * @module
 */

/** @internal */
export const SLOT_BYTES = 64;
/** @internal */
export const S = { STATE: 0, STOP: 1, KIND: 2, LEN: 3, IS_WRITE: 4, ANSWER: 5 } as const;
/** @internal */
export const STATE = { RUNNING: 0, REQUEST: 1, FINISHED: 2 } as const;
/** @internal */
export const KIND = { MMIO: 1, EXIT: 2 } as const;
/** @internal BigUint64Array indexes. */
export const B = { ADDR: 4, DATA: 5 } as const;

/** Data given to each vCPU worker. @internal */
export interface WorkerInit {
  readonly fd: number;
  readonly id: number;
  readonly variant: 'A' | 'B' | 'C';
  readonly cPlus: boolean;
  readonly slot: SharedArrayBuffer;
  readonly bindingModule: string | undefined;
  /** `workerMmio.module` of the runner's options, when given. */
  readonly mmioModule: string | undefined;
  /** `workerMmio.data` (structured clone; SharedArrayBuffers stay shared). */
  readonly mmioData: unknown;
}

/**
 * Data given to a pooled worker (`VcpuWorkerPool`): it imports these modules at once, then waits
 * for a {@link WorkerInitMessage}. @internal
 */
export interface WorkerPreload {
  readonly preload: true;
  readonly bindingModule: string | undefined;
  readonly mmioModule: string | undefined;
}

/** The message that hands a pooled worker its vCPU. @internal */
export interface WorkerInitMessage {
  readonly type: 'init';
  readonly init: WorkerInit;
}

/** Messages from a worker. @internal */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly thread: bigint }
  | { readonly type: 'exit'; readonly exit: unknown }
  | { readonly type: 'error'; readonly errno: number; readonly syscall: string; readonly message: string }
  | { readonly type: 'done' };
