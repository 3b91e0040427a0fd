/**
 * `@gunyah-ts/emu/worker-binding`: the module a vCPU worker loads (`createBinding()`), see
 * `Emulator.workerBinding`.
 *
 * @module
 */
export { createBinding, wrapWorkerBinding } from './emu/worker-binding.js';
