import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, closeServer, fillDisk, freePortBlock, killAndWait, listen, sleep, sleeper, useSandbox, withTmpfs } from '../helpers/cli';

const box = useSandbox();

type Check = { name: string; status: string; message: string; remedy?: string };
const checksOf = (r: { json: any }): Check[] => r.json.checks ?? r.json.error.details.checks;
const find = (r: { json: any }, name: string) => checksOf(r).find((c) => c.name === name);
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('doctor on allocations (informational: exit 0)', () => {
  test('a port nobody listens on, then a port held by a process that is not the owner', async () => {
    const base = await freePortBlock(5);
    box.writeConfig({ service_types: { web: { port_range: [base, base + 4] } } });
    const owner = sleeper();
    const a = box.run(['allocate', '-s', 'web', '--pid', String(owner.pid), '--json']).json;
    let r = box.run(['doctor', '--json']);
    expect(r.code).toBe(0);
    expect(find(r, 'unused ports')).toMatchObject({ status: 'info' });
    expect(find(r, 'unused ports')!.message).toContain(`web ${a.port} (${a.lockId})`);

    // This test process is no child of the sleeper that owns the allocation.
    const server = await listen(a.port, '127.0.0.1');
    try {
      r = box.run(['doctor', '--json']);
      expect(r.code).toBe(0);
      expect(find(r, 'unused ports')).toBeUndefined();
      expect(find(r, 'port holders')).toMatchObject({ status: 'info' });
      expect(find(r, 'port holders')!.message).toContain(`is listened on by PID ${process.pid}`);
      expect(find(r, 'port holders')!.message).toContain(`not by its owner PID ${owner.pid}`);
    } finally {
      await closeServer(server);
      await killAndWait(owner);
    }
    r = box.run(['doctor', '--json']);
    expect(find(r, 'ended owners')).toMatchObject({ status: 'info' });
  });

  test('a server started by styxy run listens as its owner: nothing to report', async () => {
    const ready = path.join(box.dir, 'ready');
    const server = path.join(box.dir, 'server.js');
    fs.writeFileSync(
      server,
      `require("net").createServer().listen(Number(process.env.PORT), "127.0.0.1", () => require("fs").writeFileSync(${JSON.stringify(ready)}, "1"));`,
    );
    const run = spawn(process.execPath, [BIN, 'run', '-s', 'dev', '--', process.execPath, server], { env: box.env, cwd: box.cwd, stdio: 'ignore' });
    try {
      for (let i = 0; i < 400 && !fs.existsSync(ready); i++) await sleep(25);
      const r = box.run(['doctor', '--json']);
      expect(r.code).toBe(0);
      expect(checksOf(r).filter((c) => c.status !== 'ok')).toEqual([]);
      expect(find(r, 'allocations')!.message).toContain('1 live');
    } finally {
      await killAndWait(run, 'SIGTERM');
    }
  });
});

describe('doctor on what needs action (exit 15)', () => {
  test('an overlapping range in the project layer names the file and both ranges', () => {
    fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ service_types: { web: { port_range: [3050, 3150] } } }));
    const r = box.run(['doctor', '--json']);
    expect(r.code).toBe(15);
    expect(find(r, 'config')).toMatchObject({ status: 'fail' });
    expect(find(r, 'config')!.message).toContain('.styxy.json');
    expect(find(r, 'config')!.message).toMatch(/overlaps/);
  });

  test('the human report prints every check on stdout, then the failure on stderr', () => {
    fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ service_types: { web: { port_range: [3050, 3150] } } }));
    const r = box.run(['doctor']);
    expect(r.code).toBe(15);
    expect(r.stdout).toMatch(/^✘ config: /m);
    expect(r.stdout).toMatch(/^✔ lock: /m);
    expect(r.stderr).toContain('need attention: config');
  });

  (asRoot ? test : test.skip)('a home owned by root inside a user’s home (a sudo run) names the remedy', () => {
    // The user's home is box.dir, given to uid 1000; a sudo run left STYXY_HOME and its files to root.
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '-q']).code).toBe(0);
    fs.chownSync(box.dir, 1000, 1000);
    const r = box.run(['doctor', '--json']);
    expect(r.code).toBe(15);
    expect(find(r, 'owner')).toMatchObject({ status: 'fail', remedy: `Give them back: sudo chown -R 1000: ${box.home}` });
    expect(find(r, 'owner')!.message).toContain(box.home);
    fs.chownSync(box.dir, 0, 0);
    expect(find(box.run(['doctor', '--json']), 'owner')).toBeUndefined();
  });

  (asRoot && spawnSync('setpriv', ['--version']).status === 0 ? test : test.skip)('a home its owner cannot write', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '-q']).code).toBe(0);
    fs.chmodSync(box.dir, 0o755);
    spawnSync('chown', ['-R', '65534:65534', box.home]);
    fs.chmodSync(box.home, 0o500);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'doctor', '--json'], {
      env: box.env,
      cwd: '/',
      encoding: 'utf8',
    });
    expect(r.status).toBe(15);
    const home = JSON.parse(r.stdout).error.details.checks.find((c: Check) => c.name === 'home');
    expect(home).toMatchObject({ status: 'fail', remedy: `chmod u+w ${box.home}` });
  });
});

describe('doctor on the disk', () => {
  test('doctor reports a home whose filesystem is full (a 256 KB tmpfs, as root)', () => {
    withTmpfs(box.dir, (mount) => {
      const env = { STYXY_HOME: path.join(mount, 'home') };
      expect(box.run(['allocate', '-s', 'api', '--persistent', '-q'], { env }).code).toBe(0);
      expect(box.run(['doctor', '--json'], { env }).json.checks).toContainEqual(expect.objectContaining({ name: 'disk', status: 'ok' }));
      const filler = fillDisk(mount);
      const r = box.run(['doctor', '--json'], { env });
      expect(r.code).toBe(15);
      expect(r.json.error.code).toBe('NEEDS_ATTENTION');
      expect(r.json.error.details.checks).toContainEqual(expect.objectContaining({ name: 'disk', status: 'fail' }));
      // What doctor foretells: an allocation fails.
      expect(box.run(['allocate', '-s', 'api', '--json'], { env }).json.error.code).toBe('WRITE_FAILED');
      fs.unlinkSync(filler);
      expect(box.run(['doctor', '--json'], { env }).code).toBe(0);
    });
  });
});
