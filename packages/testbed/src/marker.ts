/**
 * Markers the host's /init prints on the serial console. Each run has a random nonce so that the
 * command's own output cannot fake them: `@@TESTBED:<nonce>:READY@@` once the share is mounted and
 * `@@TESTBED:<nonce>:EXIT=<code>@@` when the command has finished.
 */
export function readyMarker(nonce: string): string {
  return `@@TESTBED:${nonce}:READY@@`;
}

/** The exit marker for `code` (see {@link readyMarker}). */
export function exitMarker(nonce: string, code: number): string {
  return `@@TESTBED:${nonce}:EXIT=${code}@@`;
}

/** What {@link SerialScanner.push} found in a chunk of serial output. */
export type SerialEvent =
  | { readonly kind: 'ready' }
  | { readonly kind: 'output'; readonly text: string } // command output (after ready), without \r
  | { readonly kind: 'exit'; readonly code: number };

const MAX_LINE = 64 * 1024;

/**
 * Splits the serial byte stream into lines and recognises the markers of one run, whatever the
 * chunking. Text before the ready marker is boot noise (kept only in the log); text between the
 * markers is the command's output; nothing is reported after the exit marker.
 */
export class SerialScanner {
  readonly #ready: string;
  readonly #exitRe: RegExp;
  #partial = '';
  #state: 'boot' | 'running' | 'done' = 'boot';

  constructor(nonce: string) {
    this.#ready = readyMarker(nonce);
    this.#exitRe = new RegExp(`@@TESTBED:${escapeRe(nonce)}:EXIT=(\\d{1,3})@@`);
  }

  /** Current phase. */
  get state(): 'boot' | 'running' | 'done' {
    return this.#state;
  }

  /** Feeds a chunk of serial output; returns the events it completes. */
  push(chunk: string): SerialEvent[] {
    const events: SerialEvent[] = [];
    if (this.#state === 'done') return events;
    this.#partial += chunk;
    for (;;) {
      const nl = this.#partial.indexOf('\n');
      if (nl < 0) {
        if (this.#partial.length > MAX_LINE) {
          // a very long line without newline: hand it on in pieces (never buffer without bound)
          const piece = this.#partial;
          this.#partial = '';
          this.#line(piece, false, events);
        }
        break;
      }
      const line = this.#partial.slice(0, nl);
      this.#partial = this.#partial.slice(nl + 1);
      this.#line(line, true, events);
      if ((this.#state as string) === 'done') break;
    }
    return events;
  }

  /** Returns any buffered partial line as output (call when the stream ends). */
  flush(): SerialEvent[] {
    const events: SerialEvent[] = [];
    if (this.#partial !== '' && this.#state !== 'done') this.#line(this.#partial, false, events);
    this.#partial = '';
    return events;
  }

  #line(raw: string, complete: boolean, events: SerialEvent[]): void {
    const line = raw.replace(/\r/g, '');
    if (this.#state === 'boot') {
      if (line.includes(this.#ready)) {
        this.#state = 'running';
        events.push({ kind: 'ready' });
      }
      return;
    }
    const m = this.#exitRe.exec(line);
    if (m !== null) {
      const before = line.slice(0, m.index);
      if (before !== '') events.push({ kind: 'output', text: before });
      this.#state = 'done';
      events.push({ kind: 'exit', code: Number(m[1]) });
      return;
    }
    events.push({ kind: 'output', text: complete ? `${line}\n` : line });
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
