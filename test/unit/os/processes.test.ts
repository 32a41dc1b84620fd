import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { probeLiveProcesses, readBootId, readProcessStat, readStartedAt } from '../../../lib/os/processes';
import { until } from '../../helpers/cli';

const linux = process.platform === 'linux';
/** The file a process runs, once it has exec'd it (Linux). */
const readExe = (pid: number): string | undefined => {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
};

(linux ? test : test.skip)('reads its own stat: ppid and a start time', () => {
  const stat = readProcessStat(process.pid);
  expect(stat?.ppid).toBe(process.ppid);
  expect(stat?.startTime).toMatch(/^\d+$/);
});

(linux ? test : test.skip)('a process whose name holds spaces and parentheses parses', async () => {
  // The kernel's comm (field 2) is the executable's file name, so run a copy of sleep named so.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-comm-'));
  const odd = path.join(dir, 'a) (b) 1 2');
  fs.copyFileSync('/bin/sleep', odd);
  fs.chmodSync(odd, 0o755);
  const child = spawn(odd, ['30'], { stdio: 'ignore' });
  await until(() => readExe(child.pid as number) === odd, "the copy of sleep to be exec'd");
  expect(fs.readFileSync(`/proc/${child.pid}/stat`, 'latin1')).toContain('(a) (b) 1 2)');
  const stat = readProcessStat(child.pid as number);
  expect(stat).toMatchObject({ pid: child.pid, ppid: process.pid });
  expect(stat?.state).toMatch(/^[RSD]$/);
  child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a running process is live, a reaped one is not, and a zombie is not', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = child.pid as number;
  expect(probeLiveProcesses([pid]).has(pid)).toBe(true);
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
  expect(probeLiveProcesses([pid]).has(pid)).toBe(false);

  // The background `cat` becomes a child of the exec'd `sleep 30`, which never reaps it: a zombie
  // once it ends, which it does when the test closes its stdin, after the exec (had it ended
  // before, bash could have reaped it).
  const parent = spawn('bash', ['-c', 'exec 3<&0; cat <&3 >/dev/null & echo $!; exec sleep 30 0<&- 3<&-'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const zombie = await new Promise<number>((r) => parent.stdout!.once('data', (d) => r(Number(String(d).trim()))));
  expect(probeLiveProcesses([zombie]).has(zombie)).toBe(true);
  if (linux) await until(() => readExe(parent.pid as number)?.endsWith('/sleep') === true, 'bash to exec sleep');
  parent.stdin!.end();
  await until(() => (linux ? readProcessStat(zombie)?.state === 'Z' : !probeLiveProcesses([zombie]).has(zombie)), 'cat to end');
  if (linux) expect(readProcessStat(zombie)?.state).toBe('Z');
  expect(probeLiveProcesses([zombie]).has(zombie)).toBe(false);
  parent.kill('SIGKILL');
});

(linux ? test : test.skip)('readStartedAt turns /proc start ticks into the wall-clock start, to well within the adoption slack', () => {
  const before = Date.now();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const startedAt = readStartedAt(readProcessStat(child.pid as number)?.startTime ?? null);
  child.kill('SIGKILL');
  expect(startedAt).not.toBeNull();
  expect(Math.abs((startedAt as number) - before)).toBeLessThan(500);
  expect(readStartedAt(null)).toBeNull();
});

(linux ? test : test.skip)('readBootId is the kernel’s boot id', () => {
  expect(readBootId()).toBe(fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
});
