/**
 * What went wrong in the testbed tooling. Each stage has its own code so callers (and tests) can
 * tell a missing host tool from a download failure or a hung boot.
 */
export type TestbedErrorCode =
  | 'BAD_ARGS' // command-line usage error
  | 'TOOL_MISSING' // a host program (qemu, cross gcc, apt-get, ...) is not installed
  | 'COMMAND_FAILED' // a helper program exited non-zero
  | 'TIMEOUT' // a stage ran past its time limit
  | 'DOWNLOAD_FAILED' // apt or npm could not fetch a package
  | 'BAD_PACKAGE' // a downloaded package lacks an expected file
  | 'BAD_CONTROL' // malformed apt/dpkg control text
  | 'BAD_MODULE' // malformed kernel module or unresolved module dependency
  | 'BAD_CPIO' // invalid cpio entry (name, size)
  | 'BAD_MANIFEST' // cache/manifest.json is missing or malformed
  | 'NOT_PREPARED' // run called before prepare
  | 'BOOT_FAILED'; // QEMU exited or the machine never reported ready

/** Error raised by the testbed tooling; `code` says which stage failed. */
export class TestbedError extends Error {
  override readonly name = 'TestbedError';
  readonly code: TestbedErrorCode;
  constructor(code: TestbedErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
