import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, freePortBlock, killAndWait, useSandbox, waitFor } from '../helpers/cli';

const box = useSandbox();
const servers: ChildProcess[] = [];
let base: number;
beforeEach(async () => {
  base = await freePortBlock(10);
  box.writeConfig({ service_types: { grid: { port_range: [base, base + 9] } } });
});
afterEach(async () => {
  for (const child of servers.splice(0)) await killAndWait(child);
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function pythonServer(port: number): Promise<void> {
  servers.push(spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { stdio: 'ignore' }));
  await waitFor(`python on ${port}`, () => accepts(port));
}

test('--block 3 holds three contiguous ports, exported as STYXY_PORT_0..2; nothing else is given one of them', () => {
  const made = box.run(['allocate', '-s', 'grid', '--block', '3', '--persistent', '--json']).json;
  expect(made).toMatchObject({ success: true, port: base, ports: [base, base + 1, base + 2] });
  expect(box.readState().allocations[0]).toMatchObject({ port: base, block: 3 });
  expect(box.run(['allocate', '-s', 'grid', '-q', '--persistent']).stdout.trim()).toBe(String(base + 3));
  expect(box.run(['check', String(base + 2), '--json']).json.allocation.lockId).toBe(made.lockId);
  const env = spawnSync('sh', ['-c', `eval "$("$STYXY" allocate -s grid -n b --block 2 --env)"; echo "$STYXY_PORT $STYXY_PORT_0 $STYXY_PORT_1"`], {
    cwd: box.cwd,
    env: { ...box.env, STYXY: BIN },
    encoding: 'utf8',
  });
  expect(env.stdout.trim()).toBe(`${base + 4} ${base + 4} ${base + 5}`);
});

test('a port of the block something listens on moves the whole block onward', async () => {
  await pythonServer(base + 1);
  expect(box.run(['allocate', '-s', 'grid', '--block', '3', '--json']).json.ports).toEqual([base + 2, base + 3, base + 4]);
});

test('released together: every port of the block is free again', () => {
  const made = box.run(['allocate', '-s', 'grid', '--block', '4', '--persistent', '--json']).json;
  expect(box.run(['release', made.lockId]).code).toBe(0);
  expect(box.run(['check', String(base + 3), '--json']).json).toMatchObject({ allocation: null, available: true });
  expect(box.run(['allocate', '-s', 'grid', '--block', '10', '--json']).json.ports).toHaveLength(10);
});

test('all or nothing: no room for the block is RANGE_EXHAUSTED and nothing is written', async () => {
  await pythonServer(base + 5);
  const before = fs.existsSync(path.join(box.home, 'state.json')) ? fs.readFileSync(path.join(box.home, 'state.json'), 'utf8') : null;
  const r = box.run(['allocate', '-s', 'grid', '--block', '6', '--json']);
  expect([r.code, r.json.error.code]).toEqual([5, 'RANGE_EXHAUSTED']);
  expect(fs.existsSync(path.join(box.home, 'state.json')) ? fs.readFileSync(path.join(box.home, 'state.json'), 'utf8') : null).toBe(before);
});

test('a sticky block comes back whole', () => {
  const first = box.run(['allocate', '-s', 'grid', '-n', 'w', '--block', '2', '--persistent', '--json']).json;
  const again = box.run(['allocate', '-s', 'grid', '-n', 'w', '--block', '2', '--json']).json;
  expect(again).toMatchObject({ reused: true, ports: first.ports });
});

test.each([
  ['1', []],
  ['101', []],
  ['two', []],
  ['3', ['-s', 'api']],
])('--block %s %j is INVALID_ARGUMENT and writes nothing', (n, extra) => {
  const r = box.run(['allocate', '-s', 'grid', ...extra, '--block', n, '--json']);
  expect([r.code, r.json.error.code]).toEqual([3, 'INVALID_ARGUMENT']);
  expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
});
