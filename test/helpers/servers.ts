import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'child_process';
import * as net from 'net';
import { randomBytes } from 'crypto';
import { waitFor } from './cli';

/** True when something accepts a connection on 127.0.0.1:`port` (or ::1). */
export function accepts(port: number): Promise<boolean> {
  const one = (host: string) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  return Promise.all([one('127.0.0.1'), one('::1')]).then((r) => r.some(Boolean));
}

export async function waitListening(port: number, what = `a server on ${port}`): Promise<void> {
  await waitFor(what, () => accepts(port), 20_000);
}

/** Every process a test started, killed in its teardown whatever happened. */
export class Strays {
  private readonly pids = new Set<number>();
  add<T extends ChildProcess>(child: T): T {
    if (child.pid !== undefined) this.pids.add(child.pid);
    return child;
  }
  pid(pid: number): void {
    this.pids.add(pid);
  }
  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.pids.clear();
  }
}

/** A real `python3 -m http.server PORT` on 127.0.0.1 (the system Python: other users can run it). */
export function pythonServer(port: number, options: SpawnOptions = {}, prefix: string[] = []): ChildProcess {
  const argv = [...prefix, '/usr/bin/python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1'];
  return spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore', ...options });
}

/** True while `pid` runs (a zombie counts as ended). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout;
  return !/\) Z /.test(stat);
}

/** A Unix user of this test's own (`sxwho` + random), removed by the returned function. */
export function makeUser(prefix = 'sxwho'): { name: string; uid: number; remove: () => void } {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  const made = spawnSync('useradd', ['-M', '-s', '/bin/sh', name], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`useradd ${name}: ${made.stderr}`);
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid, remove: () => void spawnSync('userdel', ['-r', name], { stdio: 'ignore' }) };
}
