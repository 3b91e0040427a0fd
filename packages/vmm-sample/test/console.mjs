// Drives a VMM (or any program) whose stdout is a guest console: spawn it, wait for text on the
// console, type into it, run shell commands and read their exit status. Shared by the end-to-end
// tests (test/e2e/*.test.mjs) and the benchmarks (bench/*.mjs); plain JS because the testbed's
// arm64 host runs these files directly.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** The program's threads as Linux sees them (name, state, where it sleeps): what a hung run was doing. */
function threads(pid) {
  const rd = (p) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  try {
    const lines = readdirSync(`/proc/${pid}/task`).map((t) => {
      const stat = rd(`/proc/${pid}/task/${t}/stat`);
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      return `  ${t} ${rd(`/proc/${pid}/task/${t}/comm`)} ${state} ${rd(`/proc/${pid}/task/${t}/wchan`)}`;
    });
    return `threads (tid name state wchan):\n${lines.join('\n')}`;
  } catch {
    return 'threads: (process gone)';
  }
}

/**
 * Spawns `cmd args`. `expect(text, from, ms)` resolves with the console offset just past `text`
 * (searched from offset `from`), rejects on timeout or when the program exits first. The program is
 * killed after `killAfterMs` in any case, so nothing outlives a hung test.
 */
export function spawnConsole(cmd, args, { env = process.env, stepMs = 240_000, killAfterMs = 2 * stepMs } = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      const i = out.indexOf(w.text, w.from);
      if (i >= 0) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(i + w.text.length);
      }
    }
  };
  child.stdout.on('data', (c) => {
    out += c.toString('latin1');
    check();
  });
  child.stderr.on('data', (c) => {
    err += c.toString();
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  exited.then(() => clearTimeout(timer));
  const tail = () => `console tail:\n${out.slice(-2000)}\nstderr:\n${err.slice(-2000)}\n${threads(child.pid)}`;
  let seq = 1000 + Math.floor(Math.random() * 9000);
  const vm = {
    child,
    exited,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    expect(text, from = 0, ms = stepMs) {
      return new Promise((resolve, reject) => {
        const w = {
          text,
          from,
          resolve,
          timer: setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`timed out waiting for ${JSON.stringify(text)}; ${tail()}`));
          }, ms),
        };
        waiters.push(w);
        check();
        exited.then(({ code, signal }) => {
          if (waiters.includes(w)) {
            clearTimeout(w.timer);
            waiters.splice(waiters.indexOf(w), 1);
            const how = signal !== null ? `was killed by ${signal}` : `exited (${code})`;
            reject(new Error(`${cmd} ${how} before ${JSON.stringify(text)}; ${tail()}`));
          }
        });
      });
    },
    send(text) {
      child.stdin.write(text);
    },
    /**
     * Runs a shell command in the guest and returns its output and exit status. The end marker holds
     * an arithmetic sum, so the echoed command line (which shows `$((…))`) cannot match it.
     */
    async run(command, ms = stepMs) {
      const n = seq++;
      const from = out.length;
      vm.send(`${command}; echo "@@RC=$?@@$((${n} + 1))@@"\n`);
      const end = await vm.expect(`@@${n + 1}@@`, from, ms);
      const text = out.slice(from, end);
      const m = /@@RC=(\d+)$/.exec(text.slice(0, text.length - `@@${n + 1}@@`.length));
      return { rc: m ? Number(m[1]) : NaN, text };
    },
  };
  return vm;
}
