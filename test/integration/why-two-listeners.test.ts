import { spawn, type ChildProcess } from 'child_process';
import * as net from 'net';
import { freePortBlock, hasIPv6Loopback, useSandboxAndStrays, waitFor } from '../helpers/cli';

// Two programs can listen on one port at once: one on 127.0.0.1, one on ::1 (where `localhost`
// goes for Vite and Node >= 17). `why` must name both, and `stop --force`, which ends the tree of
// one, must say that the other still holds the port. Real python3 http.servers.

const { box, strays } = useSandboxAndStrays();

function accepts(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

function server(port: number, bind: string): ChildProcess {
  const child = spawn('python3', ['-m', 'http.server', String(port), '--bind', bind], { cwd: box.cwd, stdio: 'ignore' });
  strays.push(child.pid as number);
  return child;
}

test('why names both listeners; stop --force ends one and says the other still runs', async () => {
  if (!(await hasIPv6Loopback())) return console.warn('skipped: no IPv6 loopback');
  const port = await freePortBlock(1);
  const v4 = server(port, '127.0.0.1');
  await waitFor('the 127.0.0.1 server', () => accepts(port, '127.0.0.1'));
  const v6 = server(port, '::1');
  await waitFor('the ::1 server', () => accepts(port, '::1'));

  const why = box.run(['why', String(port), '--json']);
  expect([why.code, why.json.kind]).toEqual([41, 'process']);
  const other = why.json.server.pid === v4.pid ? v6.pid : v4.pid;
  expect(why.json.summary).toContain(`Also listening on port ${port}: PID ${other} (`);

  const dry = box.run(['stop', String(port), '--force', '--dry-run', '--json']);
  expect(dry.json.stopped[0].note).toContain(`also listened on by PID ${other}`);
  const stopped = box.run(['stop', String(port), '--force', '--json']);
  expect(stopped.code).toBe(0);
  expect(stopped.json.stopped[0].processes.map((p: { pid: number }) => p.pid)).toEqual([why.json.server.pid]);
  expect(stopped.json.stopped[0].note).toContain(`also listened on by PID ${other}`);
  expect(stopped.json.stopped[0].note).toContain('still runs');
  const human = box.run(['stop', String(port), '--force', '--dry-run']);
  expect(human.stdout).toContain(`would signal PID ${other}`);
});
