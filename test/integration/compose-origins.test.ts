import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { freePortBlock, killAndWait, useSandbox, waitFor } from '../helpers/cli';

// `why` and `scan` name the Compose project and service behind a port: recorded on the
// allocation `styxy compose` made, also when the listener is a container's proxy (a real process
// named docker-proxy); else asked of the Docker engine. No engine runs here: `docker` is a
// client alone, so the engine's answer comes from a `docker` stand-in that checks what it is asked.

const box = useSandbox();
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) await killAndWait(child);
});

/** A `docker` on PATH: Compose 2.29.0 for `compose version`, success for any other compose call, and `ps` answered from `psAnswer` when the filters it is given are `publish=<port>` of `psPorts`. */
function dockerStandIn(psPorts: number[] = [], psAnswer = ''): NodeJS.ProcessEnv {
  const bin = path.join(box.dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, 'docker'),
    `#!${process.execPath}
const args = process.argv.slice(2);
if (args[0] === 'compose') { if (args[1] === 'version') console.log('2.29.0'); process.exit(0); }
if (args[0] === 'ps') {
  const filters = args.filter((a, i) => args[i - 1] === '--filter');
  if (JSON.stringify(filters) !== ${JSON.stringify(JSON.stringify(psPorts.map((p) => `publish=${p}`)))}) process.exit(3);
  if (!args.includes('--format')) process.exit(3);
  process.stdout.write(${JSON.stringify(psAnswer)});
  process.exit(0);
}
process.exit(2);
`,
    { mode: 0o755 },
  );
  return { PATH: `${bin}:${process.env.PATH}` };
}

/** A real process named docker-proxy (node under that name) listening on the port, as Docker's proxy does. */
async function dockerProxy(port: number): Promise<ChildProcess> {
  const proxy = path.join(box.dir, 'docker-proxy');
  if (!fs.existsSync(proxy)) fs.symlinkSync(process.execPath, proxy);
  const code = `require("net").createServer().listen(${port}, "127.0.0.1")`;
  const child = spawn(proxy, ['-e', code, '--', '-container-ip', '172.17.0.2', '-container-port', '80'], { stdio: 'ignore' });
  children.push(child);
  await waitFor(`docker-proxy on ${port}`, () => listening(port));
  return child;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('a port styxy compose allocated is named by its compose project and service in why, scan and list, with docker-proxy listening', async () => {
  const base = await freePortBlock(2);
  const dir = path.join(box.dir, 'shop');
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'compose.yaml'),
    `services:\n  web:\n    image: nginx\n    ports: ["${base}:80"]\n  db:\n    image: postgres\n    ports: ["${base + 1}:5432"]\n`,
  );
  const env = dockerStandIn();
  const up = box.run(['compose', '--json', '-t', 'web=dev', '-t', 'db=database', '--', 'up', '-d'], { cwd: dir, env });
  expect(up.json).toMatchObject({ success: true, status: 0 });
  const project = up.json.projectName as string;
  const web = up.json.ports.find((p: { service: string }) => p.service === 'web').port as number;

  const held = box.run(['list', '--json']).json.allocations;
  expect(held.map((a: { compose: unknown }) => a.compose).sort((a: any, b: any) => a.service.localeCompare(b.service))).toEqual([
    { project, service: 'db' },
    { project, service: 'web' },
  ]);

  // Before the container runs: reserved, and already named.
  const reserved = box.run(['why', String(web), '--json'], { env });
  expect(reserved.json).toMatchObject({ kind: 'allocation', compose: { project, service: 'web', from: 'styxy' } });

  const proxy = await dockerProxy(web);
  const why = box.run(['why', String(web), '--json'], { env });
  expect(why.json).toMatchObject({
    kind: 'allocation',
    listening: true,
    server: { pid: proxy.pid },
    allocation: { compose: { project, service: 'web' } },
    compose: { project, service: 'web', from: 'styxy' },
  });
  // Stopped by compose, never by ending Docker's proxy: stop refuses, --force or not, and keeps it.
  expect(why.json.suggestions).toEqual([`cd ${dir} && styxy compose -- down`, `styxy release ${why.json.allocation.lockId}`]);
  const stop = box.run(['stop', String(web), '--force', '--json'], { env });
  expect([stop.code, stop.json.error.code, stop.json.error.details.reason]).toEqual([26, 'STOP_REFUSED', 'docker']);
  expect(stop.json.error.suggestions[0]).toBe(`cd ${dir} && styxy compose -- down`);
  expect(proxy.exitCode === null && proxy.signalCode === null).toBe(true);
  expect(await listening(web)).toBe(true);
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(2);
  const scan = box.run(['scan', '--start', String(base), '--end', String(base + 1), '--json'], { env });
  expect(scan.json.ports.map((p: { port: number; compose: unknown }) => [p.port, p.compose])).toEqual([
    [base, { project, service: 'web', from: 'styxy' }],
    [base + 1, { project, service: 'db', from: 'styxy' }],
  ]);
  // Another compose run of the same project keeps the mark; down releases the ports and the names with them.
  expect(box.run(['compose', '--json', '-t', 'web=dev', '-t', 'db=database', '--', 'ps'], { cwd: dir, env }).json.success).toBe(true);
  expect(box.run(['list', '--json']).json.allocations.every((a: { compose?: { project: string } }) => a.compose?.project === project)).toBe(true);
  expect(box.run(['compose', '--json', '-t', 'web=dev', '-t', 'db=database', '--', 'down'], { cwd: dir, env }).json.released).toHaveLength(2);
  expect(box.run(['why', String(web), '--json'], { env }).json).not.toHaveProperty('compose');
});

test('a docker-proxy port Styxy did not allocate: the engine is asked for its compose project, and its silence changes nothing', async () => {
  const [port] = [await freePortBlock(1)];
  const other = port + 1;
  await dockerProxy(port);
  const answer = `shop-web-1\tshop\tweb\t0.0.0.0:${port}->80/tcp, :::${port}->80/tcp\nlonely\t\t\t0.0.0.0:${other}->80/tcp\n`;
  const env = dockerStandIn([port], answer);
  const why = box.run(['why', String(port), '--json'], { env });
  expect(why.code).toBe(42);
  expect(why.json).toMatchObject({ kind: 'container', compose: { project: 'shop', service: 'web', container: 'shop-web-1', from: 'docker' } });
  const scan = box.run(['scan', '--start', String(port), '--end', String(port), '--json'], { env });
  expect(scan.json.ports[0].compose).toEqual({ project: 'shop', service: 'web', container: 'shop-web-1', from: 'docker' });

  // This machine's docker is a client with no engine: nothing to name, the same answer otherwise.
  const unanswered = box.run(['why', String(port), '--json']);
  expect(unanswered.code).toBe(42);
  expect(unanswered.json.kind).toBe('container');
  expect(unanswered.json).not.toHaveProperty('compose');
});
