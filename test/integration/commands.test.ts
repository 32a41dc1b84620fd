import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BIN, closeServer, freePortBlock, killAndWait, listen, sandbox, sleeper, useSandbox, type Sandbox } from '../helpers/cli';

const box = useSandbox();

const auditActions = (b: Sandbox) =>
  fs
    .readFileSync(path.join(b.home, 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).action);

describe('release', () => {
  test('by lock id, then the lock id is NOT_FOUND', () => {
    const a = box.run(['allocate', '-s', 'dev', '--json']).json;
    const r = box.run(['release', a.lockId, '--json']);
    expect(r.code).toBe(0);
    expect(r.json.released).toEqual([expect.objectContaining({ lockId: a.lockId, port: a.port })]);
    expect(box.readState().allocations).toEqual([]);
    const again = box.run(['release', a.lockId, '--json']);
    expect(again.code).toBe(8);
    expect(again.json.error.code).toBe('NOT_FOUND');
    expect(auditActions(box)).toEqual(['allocate', 'release']);
  });

  test('an allocation whose owner just died is released by name, and logged once, as released', async () => {
    const owner = sleeper();
    const a = box.run(['allocate', '-s', 'dev', '-n', 'web', '--pid', String(owner.pid), '--json']).json;
    await killAndWait(owner);
    const r = box.run(['release', '-s', 'dev', '-n', 'web', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ released: [expect.objectContaining({ lockId: a.lockId })], pruned: 0 });
    expect(box.readState().allocations).toEqual([]);
    expect(auditActions(box)).toEqual(['allocate', 'release']);
  });

  test('by -s and -n in this project', () => {
    box.run(['allocate', '-s', 'dev', '-n', 'web']);
    const other = box.run(['allocate', '-s', 'dev', '-n', 'api', '--json']).json;
    const r = box.run(['release', '-s', 'dev', '-n', 'web', '--json']);
    expect(r.json.released).toHaveLength(1);
    expect(r.json.released[0].instanceId).toBe('web');
    expect(box.readState().allocations.map((a: { lockId: string }) => a.lockId)).toEqual([other.lockId]);
  });

  test('by -s alone: ambiguous without --all', () => {
    box.run(['allocate', '-s', 'dev']);
    box.run(['allocate', '-s', 'dev']);
    const r = box.run(['release', '-s', 'dev', '--json']);
    expect(r.code).toBe(3);
    expect(r.json.error.code).toBe('INVALID_ARGUMENT');
    expect(box.readState().allocations).toHaveLength(2);
    expect(box.run(['release', '-s', 'dev', '--all', '--json']).json.released).toHaveLength(2);
  });

  test("several lock ids (a batch's STYXY_LOCK_IDS): each released, in one call", () => {
    const batch = box.run(['allocate', '-s', 'dev', '-s', 'api', '-s', 'database', '--persistent', '--env']);
    expect(batch.code).toBe(0);
    const ids = /STYXY_LOCK_IDS='([^']+)'/.exec(batch.stdout)![1]!;
    const kept = box.run(['allocate', '-s', 'dev', '-n', 'kept', '--persistent', '--json']).json;
    // As a shell passes $STYXY_LOCK_IDS unquoted: one word each.
    const r = spawnSync('sh', ['-c', `"$0" release $STYXY_LOCK_IDS --json`, BIN], { env: { ...box.env, STYXY_LOCK_IDS: ids }, cwd: box.cwd, encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const out = JSON.parse(r.stdout);
    expect(out.released.map((a: { lockId: string }) => a.lockId)).toEqual(ids.split(' '));
    expect(box.readState().allocations.map((a: { lockId: string }) => a.lockId)).toEqual([kept.lockId]);
    expect(auditActions(box).filter((a) => a === 'release')).toHaveLength(3);
  });

  test('several lock ids, some gone: the others are released, then NOT_FOUND names the missing and lists both', () => {
    const a = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const b = box.run(['allocate', '-s', 'api', '--persistent', '--json']).json;
    const r = box.run(['release', a.lockId, 'dev-gone-000000', b.lockId, a.lockId, '--json']);
    expect([r.code, r.json.error.code]).toEqual([8, 'NOT_FOUND']);
    expect(r.json.error.details.notFound).toEqual(['dev-gone-000000']);
    expect(r.json.error.details.released.map((x: { lockId: string }) => x.lockId)).toEqual([a.lockId, b.lockId]);
    expect(box.readState().allocations).toEqual([]);
    // None there at all: NOT_FOUND, nothing written.
    const before = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
    const none = box.run(['release', a.lockId, b.lockId, '--json']);
    expect([none.code, none.json.error.code, none.json.error.details.released]).toEqual([8, 'NOT_FOUND', []]);
    expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(before);
  });

  test('several lock ids, one of them malformed: INVALID_ARGUMENT, nothing released', () => {
    const a = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const r = box.run(['release', a.lockId, 'bad;id', '--json']);
    expect([r.code, r.json.error.code]).toEqual([3, 'INVALID_ARGUMENT']);
    expect(box.readState().allocations.map((x: { lockId: string }) => x.lockId)).toEqual([a.lockId]);
  });

  test('nothing named, or both a lock id and -s, is INVALID_ARGUMENT', () => {
    expect(box.run(['release', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    expect(box.run(['release', 'dev-x-1', '-s', 'dev', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  });
});

describe('list', () => {
  test('filters by type, and -v shows owner and project', () => {
    box.run(['allocate', '-s', 'dev', '-n', 'web']);
    box.run(['allocate', '-s', 'api', '-n', 'be']);
    const all = box.run(['list', '--json']).json;
    expect(all.allocations.map((a: { serviceType: string }) => a.serviceType)).toEqual(['dev', 'api']);
    expect(box.run(['list', '-s', 'api', '--json']).json.allocations).toHaveLength(1);
    const human = box.run(['list', '-v']).stdout;
    expect(human).toMatch(/PORT\s+TYPE\s+INSTANCE\s+LOCK ID\n/);
    expect(human).toMatch(/^ {2}owner: +PID \d+/m);
    expect(human).toContain(`  project:   ${box.cwd}`);
    expect(box.run(['list']).stdout).not.toContain('owner:');
  });

  test('an empty list says so', () => {
    expect(box.run(['list']).stdout).toContain('No live allocations.');
  });
});

describe('check and scan', () => {
  test('check tells allocation, listener and availability', async () => {
    const base = await freePortBlock(3);
    box.writeConfig({ service_types: { web: { port_range: [base, base + 2] } } });
    const a = box.run(['allocate', '-s', 'web', '--json']).json;
    const server = await listen(base + 1, '127.0.0.1');
    try {
      const allocated = (await box.start(['check', String(a.port), '--json'])).json;
      expect(allocated).toMatchObject({ success: true, port: base, available: false, listening: false, allocation: { lockId: a.lockId } });
      const listening = (await box.start(['check', String(base + 1), '--json'])).json;
      expect(listening).toMatchObject({ available: false, listening: true, allocation: null });
      if (process.platform === 'linux') expect(listening.listeners[0]).toMatchObject({ port: base + 1, pid: process.pid });
      const free = (await box.start(['check', String(base + 2), '--json'])).json;
      expect(free).toMatchObject({ available: true, listening: false, allocation: null });
      expect((await box.start(['check', String(base + 1)])).stdout).toContain(`PID ${process.pid}`);
    } finally {
      await closeServer(server);
    }
  });

  test('scan lists allocations and listeners in a range', async () => {
    const base = await freePortBlock(5);
    box.writeConfig({ service_types: { web: { port_range: [base, base + 4] } } });
    box.run(['allocate', '-s', 'web', '-n', 'one']);
    const server = await listen(base + 3, '::');
    try {
      const r = (await box.start(['scan', '--start', String(base), '--end', String(base + 4), '--json'])).json;
      expect(r.ports.map((p: { port: number }) => p.port)).toEqual([base, base + 3]);
      expect(r.ports[0]).toMatchObject({ listening: false, allocation: { instanceId: 'one' } });
      expect(r.ports[1]).toMatchObject({ listening: true, allocation: null });
    } finally {
      await closeServer(server);
    }
  });

  test('bad ports are INVALID_ARGUMENT', () => {
    for (const args of [
      ['check', '0'],
      ['check', '70000'],
      ['check', 'http'],
      ['scan', '--start', '5', '--end', '1'],
      ['scan', '--start', 'x'],
    ]) {
      const r = box.run([...args, '--json']);
      expect(r.code).toBe(3);
      expect(r.json.error.code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('cleanup', () => {
  test('reports dead owners; --force also drops allocations nobody listens on', async () => {
    const base = await freePortBlock(3);
    box.writeConfig({ service_types: { web: { port_range: [base, base + 2] } } });
    const owner = sleeper();
    box.run(['allocate', '-s', 'web', '--pid', String(owner.pid)]);
    const served = box.run(['allocate', '-s', 'web', '--persistent', '--json']).json;
    const idle = box.run(['allocate', '-s', 'web', '--persistent', '--json']).json;
    await killAndWait(owner);
    const plain = box.run(['cleanup', '--json']).json;
    expect(plain.pruned).toHaveLength(1);
    expect(plain.unused).toEqual([]);
    const server = await listen(served.port, '127.0.0.1');
    try {
      const forced = (await box.start(['cleanup', '--force', '--yes', '--json'])).json;
      expect(forced.unused.map((a: { lockId: string }) => a.lockId)).toEqual([idle.lockId]);
      expect(box.readState().allocations.map((a: { lockId: string }) => a.lockId)).toEqual([served.lockId]);
    } finally {
      await closeServer(server);
    }
  });
});

describe('config', () => {
  test('show --json is the merged config; a project .styxy.json and the user config are layered', () => {
    fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ service_types: { team: { port_range: [20000, 20009] } } }));
    box.writeConfig({ service_types: { team: { description: 'ours' }, dev: { port_range: [3000, 3019] } } });
    const nested = path.join(box.cwd, 'a', 'b');
    fs.mkdirSync(nested, { recursive: true });
    const r = box.run(['config', 'show', '--json'], { cwd: nested }).json;
    expect(r.success).toBe(true);
    expect(r.config.service_types.team).toEqual({ port_range: [20000, 20009], description: 'ours' });
    expect(r.config.service_types.dev.port_range).toEqual([3000, 3019]);
    expect(r.config.service_types.ai.instance_behavior).toBe('single');
    expect(r.config.auto_allocation.default_chunk_size).toBe(10);
    expect(box.run(['allocate', '-s', 'team', '-q'], { cwd: nested }).stdout.trim()).toBe('20000');
  });

  test('an unknown key is INVALID_CONFIG naming the key, the file and the path; nothing is written', () => {
    box.writeConfig({ service_types: { dev: { port_rnage: [1, 2] } }, colour: true });
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(9);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    const problems = r.json.error.details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        { file: path.join(box.home, 'config.json'), layer: 'user config', path: '/service_types/dev/port_rnage', message: "unknown key 'port_rnage'" },
        { file: path.join(box.home, 'config.json'), layer: 'user config', path: '/colour', message: "unknown key 'colour'" },
      ]),
    );
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
    const human = box.run(['allocate', '-s', 'dev']);
    expect(human.stderr).toContain('/service_types/dev/port_rnage');
  });

  test('meaning problems: overlap, preferred port outside range, bad instance_behavior', () => {
    box.writeConfig({ service_types: { grafana: { port_range: [3090, 3110] }, x: { port_range: [21000, 21005], preferred_ports: [22000] } } });
    const problems = box.run(['config', 'validate', '--json']).json.error.details.problems.map((p: { path: string }) => p.path);
    expect(problems).toEqual(expect.arrayContaining(['/service_types/grafana/port_range', '/service_types/x/preferred_ports/0']));
    box.writeConfig({ service_types: { ai: { instance_behavior: 'twice' } } });
    const r = box.run(['config', 'validate', '--json']);
    expect(r.json.error.details.problems).toEqual([expect.objectContaining({ path: '/service_types/ai/instance_behavior' })]);
  });

  test('invalid JSON in a project file names that file', () => {
    fs.writeFileSync(path.join(box.cwd, '.styxy.json'), '{ nope');
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.files).toEqual([path.join(box.cwd, '.styxy.json')]);
  });

  test('validate FILE checks one file; path prints the locations', () => {
    const good = path.join(box.dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ service_types: { x: { port_range: [21000, 21009] } } }));
    expect(box.run(['config', 'validate', good, '--json']).json).toEqual({ success: true, valid: true, files: [good] });
    expect(box.run(['config', 'validate', path.join(box.dir, 'missing.json'), '--json']).json.error.code).toBe('NOT_FOUND');
    const p = box.run(['config', 'path', '--json']).json;
    expect(p).toMatchObject({ home: box.home, config: path.join(box.home, 'config.json'), configExists: false, project: null });
  });

  test('set writes the user config, keeps the rest, and backs up the previous file', () => {
    box.writeConfig({ service_types: { mine: { port_range: [21000, 21009], description: 'keep me' } } });
    const r = box.run(['config', 'set', 'auto-allocation.gap-size', '4', '--json']);
    expect(r.json).toMatchObject({ success: true, value: 4, previous: 10 });
    const written = JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8'));
    expect(written).toEqual({ service_types: { mine: { port_range: [21000, 21009], description: 'keep me' } }, auto_allocation: { gap_size: 4 } });
    expect(fs.readdirSync(path.join(box.home, 'backups'))).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(r.json.backup, 'utf8'))).toEqual({ service_types: { mine: { port_range: [21000, 21009], description: 'keep me' } } });
    expect(auditActions(box)).toEqual(['config-set']);
  });

  test('only the newest 10 backups are kept', () => {
    box.writeConfig({ auto_allocation: { gap_size: 1 } });
    for (let gap = 2; gap <= 13; gap++) expect(box.run(['config', 'set', 'auto-allocation.gap-size', String(gap)]).code).toBe(0);
    const backups = fs.readdirSync(path.join(box.home, 'backups')).sort();
    expect(backups).toHaveLength(10);
    // The oldest kept is the config as it was before the third set (gap 3); the newest, before the last (gap 12).
    const gaps = backups.map((b) => JSON.parse(fs.readFileSync(path.join(box.home, 'backups', b), 'utf8')).auto_allocation.gap_size);
    expect(gaps).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test('set refuses a value that would make the config invalid, and changes nothing', () => {
    box.writeConfig({ auto_allocation: { max_port: 20000 } });
    const before = fs.readFileSync(path.join(box.home, 'config.json'), 'utf8');
    const r = box.run(['config', 'set', 'auto-allocation.min-port', '30000', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(box.home, 'backups'))).toBe(false);
  });
});

describe('doctor', () => {
  test('healthy on a fresh and on a used home', () => {
    expect(box.run(['doctor', '--json']).json).toMatchObject({ success: true, healthy: true });
    box.run(['allocate', '-s', 'dev']);
    const r = box.run(['doctor', '--json']);
    expect(r.code).toBe(0);
    // The allocation's port has no listener: worth knowing, not a failure.
    expect(r.json.checks.map((c: { name: string; status: string }) => `${c.name}:${c.status}`)).toEqual([
      'home:ok',
      'files:ok',
      'config:ok',
      'state:ok',
      'lock:ok',
      'leftovers:ok',
      'disk:ok',
      'unused ports:info',
    ]);
  });

  test('a stale lock and leftover temp files need attention', () => {
    box.run(['allocate', '-s', 'dev']);
    // A lock whose holder has ended (same PID namespace and host, a PID that does not exist).
    const holding = path.join(box.home, 'state.json.lock', 'dead0001dead0001');
    fs.mkdirSync(holding, { recursive: true });
    const record = {
      pid: 4194303,
      startTime: null,
      ns: fs.readlinkSync('/proc/self/ns/pid'),
      host: os.hostname(),
      nonce: 'dead0001dead0001',
      since: '',
      command: '',
    };
    fs.writeFileSync(path.join(holding, 'holder'), JSON.stringify(record));
    fs.writeFileSync(path.join(box.home, 'state.json.tmp-123-abcd'), '{');
    const r = box.run(['doctor', '--json']);
    expect(r.code).toBe(15);
    expect(r.json.error.code).toBe('NEEDS_ATTENTION');
    const checks = Object.fromEntries(r.json.error.details.checks.map((c: { name: string; status: string }) => [c.name, c.status]));
    expect(checks).toMatchObject({ lock: 'fail', leftovers: 'warn' });
    // The next real call reclaims the stale lock and sweeps the temp file.
    expect(box.run(['list', '--json']).code).toBe(0);
    expect(fs.existsSync(path.join(box.home, 'state.json.tmp-123-abcd'))).toBe(false);
    expect(box.run(['doctor', '--json']).code).toBe(0);
  });
});

describe('doctor and the lock agree', () => {
  /** Plants a holder record as another host's styxy would leave it, last touched `ageMs` ago. */
  function plantForeignHolder(ageMs: number): void {
    const holding = path.join(box.home, 'state.json.lock', 'f0f0f0f0f0f0f0f0');
    fs.mkdirSync(holding, { recursive: true, mode: 0o700 });
    const record = {
      pid: 4242,
      startTime: null,
      ns: 'pid:[1]',
      host: 'otherbox',
      nonce: 'f0f0f0f0f0f0f0f0',
      since: '2026-01-01T00:00:00.000Z',
      command: 'allocate -s dev',
    };
    fs.writeFileSync(path.join(holding, 'holder'), JSON.stringify(record));
    const then = new Date(Date.now() - ageMs);
    fs.utimesSync(path.join(holding, 'holder'), then, then);
  }
  const lockCheck = () => {
    const r = box.run(['doctor', '--json']);
    return (r.json.checks ?? r.json.error.details.checks).find((c: { name: string }) => c.name === 'lock');
  };

  test('a silent holder on another host that the next call takes over is reported stale, and the next call does take it over', () => {
    box.run(['allocate', '-s', 'dev']);
    // The age is rounded to whole seconds when doctor reads it: planted half a second short of
    // 60 s, it reads "60 s" for as long as doctor takes up to a second to start.
    plantForeignHolder(59_501);
    const check = lockCheck();
    expect(check).toMatchObject({ status: 'fail' });
    expect(check.message).toContain('PID 4242 on otherbox');
    expect(check.message).toContain('silent for 60 s');
    expect(box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '2000' } }).code).toBe(0);
    expect(lockCheck()).toMatchObject({ status: 'ok', message: 'not held' });
  });

  test('a holder on another host heard from recently is held: doctor says so, and the next call waits for it', () => {
    box.run(['allocate', '-s', 'dev']);
    plantForeignHolder(5_000);
    expect(lockCheck()).toMatchObject({ status: 'ok' });
    expect(lockCheck().message).toMatch(/^held by PID 4242 on otherbox/);
    expect(box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '500' } }).json.error.code).toBe('LOCK_TIMEOUT');
  });
});

describe('usage', () => {
  test('unknown commands and options are usage errors (exit 2), as JSON with --json', () => {
    expect(box.run(['frobnicate']).code).toBe(2);
    const r = box.run(['allocate', '-s', 'dev', '--bogus', '--json']);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ success: false, error: { code: 'USAGE' } });
    expect(box.run(['allocate', '--json']).json.error.code).toBe('USAGE');
  });

  test('no command prints help and exits 2; --help and --version exit 0', () => {
    const none = box.run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('styxy <command>');
    const help = box.run(['allocate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('single-instance');
    expect(box.run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('--version to a reader that has gone is quiet and exits 0; to a full disk it fails with the reason', () => {
    const gone = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" --version | true; exit \${PIPESTATUS[0]}`], { encoding: 'utf8', env: box.env });
    expect(gone.status).toBe(0);
    expect(gone.stderr).toBe('');
    const full = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" --version > /dev/full`], { encoding: 'utf8', env: box.env });
    expect(full.status).not.toBe(0);
    expect(full.stderr).toContain('ENOSPC');
  });

  test('no stack trace without --verbose', () => {
    const r = box.run(['release', 'no-such-lock']);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^styxy: .*no-such-lock/);
    expect(r.stderr).toContain('hint:');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

test('config set refuses to make config.json depend on a project file', () => {
  const box2 = sandbox();
  try {
    fs.writeFileSync(path.join(box2.cwd, '.styxy.json'), JSON.stringify({ service_types: { team: { port_range: [20000, 20009] } } }));
    const r = box2.run(['config', 'set', 'service-types.team.instance-behavior', 'single', '--json']);
    expect(r.code).toBe(3);
    expect(r.json.error.message).toContain('.styxy.json');
    expect(fs.existsSync(path.join(box2.home, 'config.json'))).toBe(false);
    // A built-in type can be changed from inside the project all the same.
    expect(box2.run(['config', 'set', 'service-types.dev.instance-behavior', 'single', '--json']).json.success).toBe(true);
    expect(box2.run(['list', '--json'], { cwd: box2.dir }).code).toBe(0);
  } finally {
    box2.cleanup();
  }
});

test('a reader that stops early (styxy list --json | head -c 20) ends styxy quietly with its own status', () => {
  box.seedAllocations(2000);
  const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" list --json | head -c 20 >/dev/null`], {
    env: box.env,
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
