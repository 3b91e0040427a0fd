/** Result of {@link locateCorpus}. */
export interface CorpusLocation {
  /** Directory holding the DTBs, or null when none could be found or fetched. */
  readonly dir: string | null;
  /** Absolute paths of the .dtb files, sorted. */
  readonly files: string[];
  /** Where they came from (when found). */
  readonly source?: string;
  /** Why nothing was found (when not). */
  readonly reason?: string;
}
export declare const packageRoot: string;
export declare const cacheRoot: string;
export declare function listDtbs(dir: string, limit?: number): string[];
export declare function locateCorpus(opts?: { fetch?: boolean; log?: (s: string) => void }): CorpusLocation;
