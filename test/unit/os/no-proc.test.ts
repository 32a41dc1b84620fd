import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import {
  invokerFromPs,
  isEndedPsState,
  parseLsofListeners,
  parseNetstatListeners,
  parsePsProcesses,
  parseSysctlPortRange,
  psArgv,
  readListenersFromCommands,
  readPsProcesses,
  readSysctlPortRange,
  runCommand,
  type CommandRunner,
} from '../../../lib/os/no-proc';
import { detectInvoker, isWrapperOf } from '../../../lib/os/processes';

// The paths Styxy takes where there is no /proc (macOS): the parsers against outputs in macOS's
// formats (test/fixtures/macos), and the readers against Linux's own ps and lsof, which print
// the same formats, so the code a Mac runs has run before a Mac user runs it.

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'macos', name), 'utf8');
/** A runner that answers from fixtures and says "not installed" for anything else. */
const fromFixtures =
  (answers: Record<string, string>): CommandRunner =>
  (file) =>
    answers[file] ?? null;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

describe('ps', () => {
  test('a macOS process table: pid, parent, state, lstart as printed, command line', () => {
    const rows = parsePsProcesses(fixture('ps-A.txt'));
    expect(rows).toHaveLength(11);
    expect(rows[0]).toEqual({ pid: 1, ppid: 0, state: 'Ss', startTime: 'Mon Nov 30 08:12:01 2026', args: '/sbin/launchd' });
    expect(rows.find((r) => r.pid === 5120)).toEqual({ pid: 5120, ppid: 5119, state: 'S', startTime: 'Tue Dec  1 09:01:12 2026', args: '-zsh' });
    expect(rows.find((r) => r.pid === 10234)?.args).toBe('/Applications/Docker.app/Contents/MacOS/com.docker.backend');
    expect(isEndedPsState(rows.find((r) => r.pid === 7000)!.state)).toBe(true);
    expect(isEndedPsState('S+')).toBe(false);
    expect(parsePsProcesses('garbage\n\n  12 x\n')).toEqual([]);
  });

  test("argv from ps's command line keeps a shell's -c script whole", () => {
    expect(psArgv('sh -c styxy allocate -s dev')).toEqual(['sh', '-c', 'styxy allocate -s dev']);
    expect(psArgv('/bin/bash -c npm run dev && echo done')).toEqual(['/bin/bash', '-c', 'npm run dev && echo done']);
    expect(psArgv('node  /x/styxy  list')).toEqual(['node', '/x/styxy', 'list']);
    expect(psArgv('')).toEqual([]);
  });

  test('the owner through npx on a Mac: past sh -c and npm exec, to the shell', () => {
    const run = fromFixtures({ ps: fixture('ps-A.txt') });
    // styxy (6003) asks from its parent, the sh -c that npm exec (6001) started in zsh (5120).
    expect(invokerFromPs(6002, isWrapperOf, run)).toEqual({ pid: 5120, startTime: 'Tue Dec  1 09:01:12 2026', command: '-zsh' });
    // A script that does more than one thing is the owner itself.
    expect(invokerFromPs(7101, isWrapperOf, run)).toMatchObject({ pid: 7100, command: '/bin/bash -c npm run dev && echo done' });
    // A parent ps does not list (gone already): that PID, start unknown.
    expect(invokerFromPs(99999, isWrapperOf, run)).toEqual({ pid: 99999, startTime: null, command: '' });
    // No ps at all: the caller falls back.
    expect(invokerFromPs(6002, isWrapperOf, fromFixtures({}))).toBeNull();
  });

  test("Linux's ps, the real command: this process, its parent, a zombie, and a PID that is gone", async () => {
    // The child must end only once its parent is a `sleep`, which never reaps it: had it ended
    // before the exec, sh could reap it first. It ends when the test closes its stdin.
    const zombieMaker = spawn('sh', ['-c', 'exec 3<&0; cat <&3 >/dev/null & echo $!; exec sleep 30 0<&- 3<&-'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => zombieMaker.stdout.once('data', (d) => resolve(String(d).trim()))));
      const deadline = Date.now() + 10_000;
      while (!readPsProcesses([zombieMaker.pid!])?.get(zombieMaker.pid!)?.args.startsWith('sleep') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      zombieMaker.stdin.end();
      // Wait for the zombie to be one (cat to end), with a deadline.
      while (!isEndedPsState(readPsProcesses([zombie])?.get(zombie)?.state ?? '') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const gone = spawnSync('true').pid!;
      const table = readPsProcesses([process.pid, zombie, gone])!;
      expect(table.get(process.pid)).toMatchObject({ pid: process.pid, ppid: process.ppid });
      expect(table.get(process.pid)!.startTime).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
      expect(table.get(process.pid)!.args).toContain('node');
      expect(isEndedPsState(table.get(zombie)!.state)).toBe(true);
      expect(table.has(gone)).toBe(false);
      // The start time is the same on every read: it can name the owner.
      expect(readPsProcesses([process.pid])!.get(process.pid)!.startTime).toBe(table.get(process.pid)!.startTime);
    } finally {
      zombieMaker.kill('SIGKILL');
    }
  });

  test('the ps walk finds the same owner as the /proc walk on this machine', () => {
    expect(invokerFromPs(process.ppid, isWrapperOf)!.pid).toBe(detectInvoker()!.pid);
  });

  test('a command that cannot run is null, one that ran and said no is its output', () => {
    expect(runCommand('styxy-no-such-command', [])).toBeNull();
    expect(runCommand('sh', ['-c', 'echo partial; exit 1'])).toBe('partial\n');
  });
});

describe('listeners', () => {
  test("lsof's field output: endpoints with their process, v4 and v6, duplicates once", () => {
    expect(parseLsofListeners(fixture('lsof-listen.txt'))).toEqual([
      { port: 49401, address: '*', inode: '0', pid: 311, command: 'rapportd' },
      { port: 3000, address: '127.0.0.1', inode: '0', pid: 6100, command: 'node' },
      { port: 3000, address: '::1', inode: '0', pid: 6100, command: 'node' },
      { port: 8000, address: '*', inode: '0', pid: 6200, command: 'Python' },
      { port: 7000, address: '*', inode: '0', pid: 6300, command: 'ControlCe' },
      { port: 5000, address: '*', inode: '0', pid: 6300, command: 'ControlCe' },
    ]);
    expect(parseLsofListeners('p1\ncx\nn127.0.0.1:5000->127.0.0.1:60000\n')).toEqual([]);
  });

  test('macOS netstat: LISTEN rows of tcp4, tcp6 and tcp46, the port after the last dot', () => {
    expect(parseNetstatListeners(fixture('netstat-an.txt')).map((l) => [l.address, l.port])).toEqual([
      ['127.0.0.1', 3000],
      ['::1', 3000],
      ['*', 8000],
      ['fe80::1%lo0', 631],
      ['*', 5000],
    ]);
  });

  test('lsof first; netstat when there is no lsof; null when there is neither', () => {
    expect(readListenersFromCommands(fromFixtures({ lsof: fixture('lsof-listen.txt'), netstat: fixture('netstat-an.txt') }))).toHaveLength(6);
    expect(readListenersFromCommands(fromFixtures({ netstat: fixture('netstat-an.txt') }))).toHaveLength(5);
    expect(readListenersFromCommands(fromFixtures({ lsof: '' }))).toEqual([]);
    expect(readListenersFromCommands(fromFixtures({}))).toBeNull();
  });

  (has('lsof') ? test : test.skip)("Linux's lsof, the real command: finds this process's servers on 127.0.0.1 and ::1", async () => {
    const servers = await Promise.all(
      ['127.0.0.1', '::1'].map(
        (host) =>
          new Promise<net.Server>((resolve) => {
            const s = net.createServer();
            s.listen(0, host, () => resolve(s));
          }),
      ),
    );
    try {
      const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
      const mine = (readListenersFromCommands() ?? []).filter((l) => l.pid === process.pid);
      expect(mine.map((l) => [l.address, l.port]).sort()).toEqual(
        [
          ['127.0.0.1', ports[0]],
          ['::1', ports[1]],
        ].sort(),
      );
      // lsof's command is the kernel's name for the process (Node 24 calls its main thread MainThread).
      expect(mine[0]!.command).toBe(fs.readFileSync('/proc/self/comm', 'utf8').trim());
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });
});

describe('the ephemeral range', () => {
  test('from sysctl, and nothing from a malformed answer', () => {
    expect(parseSysctlPortRange(fixture('sysctl-portrange.txt'))).toEqual([49152, 65535]);
    expect(readSysctlPortRange(fromFixtures({ sysctl: '32768\n60999\n' }))).toEqual([32768, 60999]);
    expect(parseSysctlPortRange('')).toBeNull();
    expect(parseSysctlPortRange('65535\n49152\n')).toBeNull();
    expect(parseSysctlPortRange('sysctl: unknown oid\n')).toBeNull();
    expect(readSysctlPortRange(fromFixtures({}))).toBeNull();
  });
});
