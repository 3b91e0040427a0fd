/**
 * The Gunyah Resource Manager RPC protocol: framing, message catalogue, payload codecs, a client
 * and a server framework (spec/gunyah-rm-protocol.md).
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './constants.js';
export * from './framing.js';
export * from './payloads.js';
export * from './catalogue.js';
export * from './transport.js';
export * from './client.js';
export * from './server.js';
export * from './fake-rm.js';
export * from './sync-client.js';
