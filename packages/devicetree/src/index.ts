/**
 * Version of this package's public API surface.
 */
export const VERSION = '0.1.0';
