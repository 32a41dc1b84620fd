import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readStartTime } from '../../../lib/os/processes';
import { endProcessTree, FORWARD_GRACE_MS, forwardGraceMs, isSameProcess } from '../../../lib/os/supervise';
import { readTestHooks } from '../../../lib/os/test-hooks';

test('the grace after a forwarded signal is 5 s unless a test shortens it; nonsense leaves it at 5 s', () => {
  expect(FORWARD_GRACE_MS).toBe(5000);
  expect(forwardGraceMs(readTestHooks({}))).toBe(5000);
  expect(forwardGraceMs(readTestHooks({ STYXY_TEST_FORWARD_GRACE_MS: '500' }))).toBe(500);
  for (const value of ['', '0', '-1', 'soon', 'NaN']) expect(forwardGraceMs(readTestHooks({ STYXY_TEST_FORWARD_GRACE_MS: value }))).toBe(5000);
});

test('a PID names the process recorded only while it has not exited and both start times are known and equal', () => {
  expect(isSameProcess('100', '100', false)).toBe(true);
  // Exited (reaped): its PID may be anyone's now, whatever start time it shows.
  expect(isSameProcess('100', '100', true)).toBe(false);
  // Reused by another process.
  expect(isSameProcess('100', '250', false)).toBe(false);
  // Gone, or not readable now, or never recorded: unverifiable, so not the same.
  expect(isSameProcess('100', undefined, false)).toBe(false);
  expect(isSameProcess('100', null, false)).toBe(false);
  expect(isSameProcess(null, '100', false)).toBe(false);
  expect(isSameProcess(null, null, false)).toBe(false);
});

describe('endProcessTree (real processes)', () => {
  const running = (pid: number) => readStartTime(pid) !== undefined;

  async function tree(): Promise<{ root: number; children: number[] }> {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-tree-')), 'pids');
    const child = spawn('sh', ['-c', `sleep 300 & echo $! >> ${file}; sleep 300 & echo $! >> ${file}; wait`], { detached: true, stdio: 'ignore' });
    child.unref();
    for (let i = 0; i < 500; i++) {
      const pids = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
      if (pids.length === 2) return { root: child.pid as number, children: pids };
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the tree did not start');
  }

  test('ends the root and every descendant; a root named with another start time, or none, is left alone', async () => {
    const { root, children } = await tree();
    try {
      expect(await endProcessTree({ pid: root, startTime: 'not-its-start-time' })).toEqual([]);
      expect([root, ...children].every(running)).toBe(true);
      // A root recorded without its start time cannot be told from a process that took its PID.
      expect(await endProcessTree({ pid: root, startTime: null })).toEqual([]);
      expect([root, ...children].every(running)).toBe(true);
      const reached = await endProcessTree({ pid: root, startTime: readStartTime(root) ?? null });
      expect(reached.map((p) => p.pid).sort()).toEqual([root, ...children].sort());
      expect([root, ...children].some(running)).toBe(false);
    } finally {
      for (const pid of [root, ...children]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* ended */
        }
      }
    }
  });
});
