import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitMarker, readyMarker, SerialScanner, type SerialEvent } from './marker.js';

const NONCE = 'a1b2c3d4e5f6';

function feed(chunks: readonly string[], nonce = NONCE): SerialEvent[] {
  const s = new SerialScanner(nonce);
  return [...chunks.flatMap((c) => s.push(c)), ...s.flush()];
}
const outputOf = (evs: readonly SerialEvent[]): string => evs.map((e) => (e.kind === 'output' ? e.text : '')).join('');
const exitOf = (evs: readonly SerialEvent[]): number | undefined => evs.flatMap((e) => (e.kind === 'exit' ? [e.code] : []))[0];

describe('SerialScanner', () => {
  it('drops boot noise, passes command output without \\r, reports the exit code', () => {
    const evs = feed([`[    0.0] Booting Linux\r\n${readyMarker(NONCE)}\r\nhello\r\nworld\r\n\r\n${exitMarker(NONCE, 3)}\r\n[ 9.9] reboot: Power down\r\n`]);
    expect(evs[0]).toEqual({ kind: 'ready' });
    expect(outputOf(evs)).toBe('hello\nworld\n\n');
    expect(exitOf(evs)).toBe(3);
  });

  it('ignores markers with another nonce (the command cannot fake them)', () => {
    const evs = feed([`${readyMarker(NONCE)}\n${exitMarker('ffffffffffff', 0)}\n${exitMarker(NONCE, 7)}\n`]);
    expect(outputOf(evs)).toBe(`${exitMarker('ffffffffffff', 0)}\n`);
    expect(exitOf(evs)).toBe(7);
    expect(feed([`${readyMarker('other')}\nx\n`]).length).toBe(0);
  });

  it('keeps output before the marker on the same line, and stops after it', () => {
    const s = new SerialScanner(NONCE);
    s.push(`${readyMarker(NONCE)}\n`);
    expect(s.state).toBe('running');
    expect(s.push(`partial${exitMarker(NONCE, 0)}\nafter\n`)).toEqual([{ kind: 'output', text: 'partial' }, { kind: 'exit', code: 0 }]);
    expect(s.state).toBe('done');
    expect(s.push('more\n')).toEqual([]);
    expect(s.flush()).toEqual([]);
  });

  it('hands on an unterminated line at flush, and very long lines in pieces', () => {
    const s = new SerialScanner(NONCE);
    s.push(`${readyMarker(NONCE)}\nno newline`);
    expect(s.flush()).toEqual([{ kind: 'output', text: 'no newline' }]);
    const long = 'x'.repeat(70 * 1024);
    const evs = feed([`${readyMarker(NONCE)}\n`, long, 'y\n']);
    expect(outputOf(evs)).toBe(`${long}y\n`);
  });

  it('property: the result does not depend on how the stream is chunked', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '\r', '@', ':', 'T', '=') });
    fc.assert(
      fc.property(text, text, fc.integer({ min: 0, max: 255 }), fc.array(fc.nat(), { maxLength: 10 }), (noise, out, code, cuts) => {
        const stream = `${noise}\n${readyMarker(NONCE)}\r\n${out}\n${exitMarker(NONCE, code)}\r\ntrailing\n`;
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(stream.slice(last, p));
          last = p;
        }
        chunks.push(stream.slice(last));
        const whole = feed([stream]);
        const split = feed(chunks);
        expect(outputOf(split)).toBe(outputOf(whole));
        expect(outputOf(split)).toBe(`${out.replace(/\r/g, '')}\n`);
        expect(exitOf(split)).toBe(code);
      }),
      { numRuns: 500 },
    );
  });
});
