import * as fs from 'fs';
import * as path from 'path';
import { closeServer, freePortBlock, killAndWait, listen, sandbox, sleeper, type Sandbox } from '../helpers/cli';

// The reuse cool-down and home ports, through the real CLI, over a three-port range so that
// "nothing else is free" is reached in a few calls. The default cool-down (600 s) is far longer
// than any of these tests, so every freed port here is still cooling.

let box: Sandbox;
let base: number;
beforeEach(async () => {
  box = sandbox();
  base = await freePortBlock(3);
  box.writeConfig({ service_types: { web: { port_range: [base, base + 2] } } });
});
afterEach(() => box.cleanup());

const allocate = (...args: string[]) => box.run(['allocate', '-s', 'web', '--persistent', '--json', ...args]);

describe('reuse cool-down', () => {
  test('a released port goes to another service only when every other port of the range is taken, and the output says so', async () => {
    const first = allocate('-n', 'one').json;
    expect(first.port).toBe(base);
    expect(box.run(['release', '-s', 'web', '-n', 'one', '--json']).code).toBe(0);
    expect(box.readState().recentlyFreed).toEqual([expect.objectContaining({ port: base, serviceType: 'web', instanceId: 'one', sticky: true })]);

    // Another program listens on base + 1: the OS check skips it, the cooling port is still avoided.
    const server = await listen(base + 1, '127.0.0.1');
    try {
      const two = allocate('-n', 'two');
      expect(two.json).toMatchObject({ success: true, port: base + 2 });
      expect(two.json.cooling).toBeUndefined();

      // Now base is the only free port: it is used, and --json says it was still cooling.
      const three = allocate('-n', 'three').json;
      expect(three).toMatchObject({ success: true, port: base, cooling: { previousHolder: { serviceType: 'web', instanceId: 'one' }, cooldownSeconds: 600 } });
      expect(three.cooling.freedSecondsAgo).toBeGreaterThanOrEqual(0);
    } finally {
      await closeServer(server);
    }
  });

  test('without --json the same case is a line on stderr; stdout stays the result', () => {
    allocate('-n', 'one');
    allocate('-n', 'two');
    allocate('-n', 'three');
    box.run(['release', '-s', 'web', '-n', 'two']);
    const r = box.run(['allocate', '-s', 'web', '-n', 'four', '--persistent', '-q']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${base + 1}\n`);
    expect(r.stderr).toContain(`port ${base + 1} `);
    expect(r.stderr).toMatch(/cool-down/);
  });

  test('a port pruned because its owner died cools too, from the very call that prunes it', async () => {
    const owner = sleeper();
    expect(box.run(['allocate', '-s', 'web', '-n', 'gone', '--pid', String(owner.pid), '--json']).json.port).toBe(base);
    await killAndWait(owner);
    const next = allocate('-n', 'other').json;
    expect(next).toMatchObject({ success: true, port: base + 1, pruned: 1 });
  });

  test('an unnamed service restarted in the same project gets its port back; from another project the port cools', () => {
    allocate();
    const second = allocate().json;
    expect(second.port).toBe(base + 1);
    box.run(['release', second.lockId]);
    expect(allocate().json).toMatchObject({ port: base + 1, homePort: true });
    box.run(['release', '-s', 'web', '--all']);
    const elsewhere = allocate('--project', box.dir).json;
    expect(elsewhere.port).toBe(base + 2);
    expect(elsewhere.homePort).toBeUndefined();
  });

  test('a cool-down of 0 (config set) turns it off; a home port is still passed over while another port is free', () => {
    expect(box.run(['config', 'show', '--json']).json.config.port_reuse).toEqual({ cooldown_seconds: 600, home_port_days: 7, home_port_limit: 200 });
    expect(box.run(['config', 'set', 'port-reuse.cooldown-seconds', '0', '--json']).code).toBe(0);
    expect(box.run(['config', 'show', '--json']).json.config.port_reuse.cooldown_seconds).toBe(0);
    const plain = allocate().json;
    box.run(['release', plain.lockId]);
    expect(allocate().json).toMatchObject({ port: base });

    box.run(['release', '-s', 'web', '--all']);
    allocate('-n', 'site');
    box.run(['release', '-s', 'web', '-n', 'site']);
    expect(allocate().json).toMatchObject({ port: base + 1 });
    expect(allocate().json).toMatchObject({ port: base + 2 });
    expect(allocate().json).toMatchObject({ port: base });
  });

  test('a bad value is refused with INVALID_ARGUMENT, and an unknown key in config.json with INVALID_CONFIG', () => {
    expect(box.run(['config', 'set', 'port-reuse.cooldown-seconds', '-5', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    box.writeConfig({ port_reuse: { cooldown: 5 } });
    expect(allocate().json.error.code).toBe('INVALID_CONFIG');
  });
});

describe('home ports', () => {
  test('a sticky service gets its last port back after a release, while others were given the rest', () => {
    expect(allocate('-n', 'site').json.port).toBe(base);
    box.run(['release', '-s', 'web', '-n', 'site']);
    expect(allocate('-n', 'a').json.port).toBe(base + 1);
    box.run(['release', '-s', 'web', '-n', 'a']);
    const back = allocate('-n', 'site').json;
    expect(back).toMatchObject({ success: true, port: base, homePort: true, reused: false });
    // What it holds again is no longer remembered as freed.
    expect(box.readState().recentlyFreed.map((f: { port: number }) => f.port)).toEqual([base + 1]);
  });

  test('a sticky service gets its home port back after its owner died', async () => {
    const owner = sleeper();
    const first = box.run(['allocate', '-s', 'web', '-n', 'site', '--pid', String(owner.pid), '--json']).json;
    expect(first.port).toBe(base);
    allocate('-n', 'x');
    await killAndWait(owner);
    const again = box.run(['allocate', '-s', 'web', '-n', 'site', '--json']).json;
    expect(again).toMatchObject({ success: true, port: base, homePort: true, pruned: 1 });
    expect(again.lockId).not.toBe(first.lockId);
  });

  test('a home port that another program now listens on is not forced: the service gets another', async () => {
    allocate('-n', 'site');
    box.run(['release', '-s', 'web', '-n', 'site']);
    const server = await listen(base, '127.0.0.1');
    try {
      const r = allocate('-n', 'site').json;
      expect(r.success).toBe(true);
      expect(r.port).not.toBe(base);
      expect(r.homePort).toBeUndefined();
    } finally {
      await closeServer(server);
    }
  });

  test('a state written before the memory existed loads, and is written with it afterwards', () => {
    const old = {
      version: 1,
      allocations: [
        {
          lockId: 'web-site-000000',
          serviceType: 'web',
          instanceId: 'site',
          port: base,
          project: box.cwd,
          owner: { kind: 'persistent' },
          allocatedAt: '2026-01-01T00:00:00.000Z',
        },
      ],
    };
    fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify(old), { mode: 0o600 });
    expect(box.run(['list', '--json']).json.allocations).toHaveLength(1);
    expect(box.run(['release', 'web-site-000000', '--json']).code).toBe(0);
    const state = box.readState();
    expect(state.allocations).toEqual([]);
    // An allocation from before the sticky mark: its port cools, but is nobody's home.
    expect(state.recentlyFreed).toEqual([expect.objectContaining({ port: base, instanceId: 'site', sticky: false })]);
    expect(fs.readdirSync(box.home).filter((f) => f.includes('corrupt'))).toEqual([]);
  });
});
