import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { closeServer, freePortBlock, hasIPv6Loopback, killAndWait, leaseEnded, listen, sleeper, until, useSandbox } from '../helpers/cli';

const box = useSandbox();

describe('allocate', () => {
  test('--json answers with the contract fields and records the allocation', () => {
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ success: true, serviceType: 'dev', existing: false, reused: false, autoAllocated: false, pruned: 0 });
    expect(r.json.port).toBeGreaterThanOrEqual(3000);
    expect(r.json.port).toBeLessThanOrEqual(3099);
    expect(r.json.lockId).toMatch(/^dev-/);
    expect(typeof r.json.instanceId).toBe('string');
    expect(box.readState().allocations).toEqual([expect.objectContaining({ lockId: r.json.lockId, port: r.json.port })]);
    const homeMode = fs.statSync(box.home).mode & 0o777;
    expect(homeMode).toBe(0o700);
    expect(fs.statSync(path.join(box.home, 'state.json')).mode & 0o777).toBe(0o600);
  });

  test('successive allocations get distinct ports', () => {
    const ports = [1, 2, 3].map(() => box.run(['allocate', '-s', 'api', '-q']).stdout.trim());
    expect(new Set(ports).size).toBe(3);
    for (const p of ports) expect(Number(p)).toBeGreaterThanOrEqual(8000);
  });

  test('the same instance id in the same project gets the same allocation back; another project does not', () => {
    const first = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']).json;
    const again = box.run(['allocate', '--service', 'dev', '--name', 'web', '--json']).json;
    expect(again).toMatchObject({ port: first.port, lockId: first.lockId, reused: true });
    const elsewhere = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json', '--project', box.dir]).json;
    expect(elsewhere.port).not.toBe(first.port);
    expect(box.readState().allocations).toHaveLength(2);
  });

  test('the project defaults to the git top level', () => {
    fs.mkdirSync(path.join(box.cwd, '.git'));
    fs.mkdirSync(path.join(box.cwd, 'sub', 'deeper'), { recursive: true });
    const r = box.run(['allocate', '-s', 'dev', '-n', 'x', '--json'], { cwd: path.join(box.cwd, 'sub', 'deeper') });
    expect(r.json.project).toBe(box.cwd);
  });

  test('--port is given when free, and a taken --port falls back and says so', () => {
    const first = box.run(['allocate', '-s', 'dev', '-p', '3050', '--json']).json;
    expect(first.port).toBe(3050);
    const second = box.run(['allocate', '-s', 'dev', '-p', '3050', '--json']);
    expect(second.json.port).not.toBe(3050);
    expect(second.json.requestedPortNote).toContain(first.lockId);
    const human = box.run(['allocate', '-s', 'dev', '-p', '3050']);
    expect(human.stderr).toContain('port 3050 is allocated to');
  });

  test('--dry-run answers like an allocation and changes nothing', () => {
    const r = box.run(['allocate', '-s', 'dev', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ success: true, dryRun: true, existing: false });
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });

  test('-q prints the port alone; human output names port and lock', () => {
    expect(box.run(['allocate', '-s', 'dev', '-q']).stdout).toMatch(/^30\d\d\n$/);
    const human = box.run(['allocate', '-s', 'dev']);
    expect(human.stdout).toMatch(/Allocated port 30\d\d for dev/);
    expect(human.stdout).not.toContain('\u001b[');
  });

  test('a server on 127.0.0.1 and one on ::1 inside the range are skipped', async () => {
    const base = await freePortBlock(4);
    box.writeConfig({ service_types: { probe: { port_range: [base, base + 3] } } });
    const v4 = await listen(base, '127.0.0.1');
    const v6 = (await hasIPv6Loopback()) ? await listen(base + 1, '::1') : null;
    try {
      const r = await box.start(['allocate', '-s', 'probe', '--json']);
      expect(r.json.port).toBe(v6 ? base + 2 : base + 1);
      if (!v6) console.warn('IPv6 loopback unavailable: the ::1 case was not exercised');
    } finally {
      await closeServer(v4);
      if (v6) await closeServer(v6);
    }
  });

  test('a full range fails with RANGE_EXHAUSTED and suggestions', async () => {
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { tiny: { port_range: [base, base + 1] } } });
    const server = await listen(base + 1, '127.0.0.1');
    try {
      expect((await box.start(['allocate', '-s', 'tiny', '--json'])).json.port).toBe(base);
      const r = await box.start(['allocate', '-s', 'tiny', '--json']);
      expect(r.code).toBe(5);
      expect(r.json).toMatchObject({ success: false, error: { code: 'RANGE_EXHAUSTED' } });
      expect(r.json.error.suggestions.length).toBeGreaterThan(0);
    } finally {
      await closeServer(server);
    }
  });
});

describe('owners', () => {
  test('an allocation dies with its --pid owner and the next call prunes it', async () => {
    const owner = sleeper();
    const a = box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']).json;
    expect(a.owner).toMatchObject({ kind: 'process', pid: owner.pid });
    expect(box.run(['list', '--json']).json.allocations).toHaveLength(1);
    await killAndWait(owner);
    const list = box.run(['list', '--json']).json;
    expect(list).toMatchObject({ allocations: [], pruned: 1 });
    expect(box.readState().allocations).toEqual([]);
  });

  test('the default owner is the process that ran styxy: a shell that lives on keeps it', () => {
    const out = execFileSync('bash', ['-c', `node ${JSON.stringify(path.resolve('bin/styxy'))} allocate -s dev --json; echo "$$"`], {
      env: box.env,
      cwd: box.cwd,
      encoding: 'utf8',
    }).split('\n');
    const result = JSON.parse(out[0] as string);
    expect(result.owner).toMatchObject({ pid: Number(out[1]), detected: true });
    // The shell has exited now, with nothing listening: the port stays reserved for the grace.
    const list = box.run(['list', '--json']).json;
    expect(list.pruned).toBe(0);
    expect(list.allocations[0].owner).toMatchObject({ pid: Number(out[1]), reservedUntil: expect.any(String) });
  });

  test('a transient subshell is skipped: the owner is the shell that asked', () => {
    const bin = path.resolve('bin/styxy');
    const script = `out=$(node ${bin} allocate -s dev --json; true); echo "$out"; echo "$$"`;
    const [json, shellPid] = execFileSync('bash', ['-c', script], { env: box.env, cwd: box.cwd, encoding: 'utf8' }).trim().split('\n');
    expect(JSON.parse(json as string).owner.pid).toBe(Number(shellPid));
  });

  test.each([
    ['npx styxy', 'npx styxy allocate -s dev --json'],
    ['npm exec', 'npm exec -- styxy allocate -s dev --json'],
    ['an npm script', 'npm run -s alloc'],
    ['npx in a command substitution', 'out=$(npx styxy allocate -s dev --json); echo "$out"'],
  ])('under %s the owner is the shell that ran it', (_name, line) => {
    // A project with styxy installed locally, as users have it.
    fs.writeFileSync(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', scripts: { alloc: 'styxy allocate -s dev --json' } }));
    fs.mkdirSync(path.join(box.cwd, 'node_modules', '.bin'), { recursive: true });
    fs.symlinkSync(path.resolve('bin/styxy'), path.join(box.cwd, 'node_modules', '.bin', 'styxy'));
    const out = execFileSync('bash', ['-c', `${line}; echo "$$"`], {
      env: { ...box.env, npm_config_update_notifier: 'false', npm_config_loglevel: 'silent' },
      cwd: box.cwd,
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    const shellPid = Number(out.pop());
    expect(JSON.parse(out.join('\n')).owner.pid).toBe(shellPid);
  });

  test('a zombie owner is dead', async () => {
    const parent = await zombieToBe();
    const r = box.run(['allocate', '-s', 'dev', '--pid', String(parent.zombie), '--json']);
    expect(r.code).toBe(0);
    // Only now does the owner end: a zombie until its parent reaps it, which it never does.
    process.kill(parent.zombie, 'SIGKILL');
    await until(() => isZombie(parent.zombie), `PID ${parent.zombie} to become a zombie`);
    expect(box.run(['list', '--json']).json).toMatchObject({ allocations: [], pruned: 1 });
    parent.kill();
  });

  test('--ttl makes a lease that ends; --persistent lasts', async () => {
    // The persistent one first: an allocate after the 1 s lease could come after its end (on a
    // loaded machine) and prune it before leaseEnded reads it.
    const kept = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const lease = box.run(['allocate', '-s', 'dev', '--ttl', '1s', '--json']).json;
    expect(kept.owner).toEqual({ kind: 'persistent' });
    await leaseEnded(box, lease.lockId);
    const list = box.run(['list', '--json']).json;
    expect(list.pruned).toBe(1);
    expect(list.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([kept.lockId]);
  });

  test('--pid of no running process, a bad --ttl and conflicting owners are refused', () => {
    expect(box.run(['allocate', '-s', 'dev', '--pid', '999999999', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    expect(box.run(['allocate', '-s', 'dev', '--ttl', 'soon', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    expect(box.run(['allocate', '-s', 'dev', '--ttl', '1h', '--persistent', '--json']).code).toBe(2);
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });
});

/** The process has ended and waits for its parent to reap it (state Z in /proc). */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** `sleep 30 &` becomes a child of the exec'd `sleep 60`, which never reaps it: a zombie once killed. */
async function zombieToBe(): Promise<{ zombie: number; kill: () => void }> {
  // The test ends the child once styxy has recorded it: under load, a timed end came first.
  const parent = spawn('bash', ['-c', 'sleep 30 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = await new Promise<number>((resolve) => parent.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  // Before the exec, bash would reap the child it ends.
  await until(() => fs.readlinkSync(`/proc/${parent.pid}/exe`).endsWith('/sleep'), 'bash to exec sleep');
  return { zombie, kill: () => parent.kill('SIGKILL') };
}

describe('a requested port outside the type range', () => {
  test('is granted and said so, on stderr and in --json', () => {
    const r = box.run(['allocate', '-s', 'dev', '-p', '5555', '--json']);
    expect(r.json).toMatchObject({ success: true, port: 5555, requestedPort: 5555, requestedPortNote: expect.stringContaining('outside the range') });
    const q = box.run(['allocate', '-s', 'dev', '-p', '5556', '-q']);
    expect(q.stdout).toBe('5556\n');
    expect(q.stderr).toBe("styxy: port 5556 is outside the range of 'dev' (3000-3099); allocated it as asked\n");
    // Inside the range nothing is said.
    expect(box.run(['allocate', '-s', 'dev', '-p', '3050', '-q']).stderr).toBe('');
  });
});
