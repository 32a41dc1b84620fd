import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, closeServer, freePortBlock, listen, sandbox, type Sandbox } from '../helpers/cli';

// `allocate -s A -s B ...`: one transaction, all or nothing, through the real CLI.

let box: Sandbox;
let base: number;
beforeEach(async () => {
  box = sandbox();
  base = await freePortBlock(5);
  // web has two ports, db-main one, cache.x two: a listener on db-main's port exhausts it.
  box.writeConfig({
    service_types: {
      web: { port_range: [base, base + 1] },
      'db-main': { port_range: [base + 2, base + 2] },
      'cache.x': { port_range: [base + 3, base + 4] },
    },
  });
});
afterEach(() => box.cleanup());

/** Every file of the home, byte for byte (the lock directory is gone between calls). */
function snapshot(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of fs.readdirSync(box.home).sort()) {
    const file = path.join(box.home, name);
    if (fs.statSync(file).isFile()) files[name] = fs.readFileSync(file, 'utf8');
  }
  return files;
}

describe('a batch', () => {
  test('--json gives an allocations array, one per type in the order asked, all in the state', () => {
    const r = box.run(['allocate', '-s', 'web', '-s', 'db-main', '--service', 'cache.x', '--persistent', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      success: true,
      pruned: 0,
      allocations: [
        { success: true, serviceType: 'web', port: base, existing: false, reused: false },
        { success: true, serviceType: 'db-main', port: base + 2 },
        { success: true, serviceType: 'cache.x', port: base + 3 },
      ],
    });
    expect(box.readState().allocations.map((a: { lockId: string }) => a.lockId)).toEqual(r.json.allocations.map((a: { lockId: string }) => a.lockId));
  });

  test('with one exhausted type nothing is allocated, the state is byte-identical, and the error names the type', async () => {
    box.run(['allocate', '-s', 'web', '--persistent', '--json']);
    const before = snapshot();
    const server = await listen(base + 2, '127.0.0.1');
    try {
      const r = box.run(['allocate', '-s', 'web', '-s', 'db-main', '-s', 'cache.x', '--persistent', '--json']);
      expect(r.code).toBe(5);
      expect(r.json).toMatchObject({
        success: false,
        error: { code: 'RANGE_EXHAUSTED', details: { serviceType: 'db-main', serviceTypes: ['web', 'db-main', 'cache.x'] } },
      });
      expect(r.json.error.message).toContain("'db-main'");
    } finally {
      await closeServer(server);
    }
    expect(snapshot()).toEqual(before);
  });

  test('an unknown type with auto-allocation off, or one that needs confirmation, leaves config and state as they were', () => {
    box.run(['allocate', '-s', 'web', '--persistent']);
    let before = snapshot();
    // A near miss of a known type is taken for a typo: refused, and named.
    const typo = box.run(['allocate', '-s', 'cache.x', '-s', 'webb', '--json']);
    expect(typo.json.error).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE', details: { serviceType: 'webb' } });
    expect(snapshot()).toEqual(before);
    box.run(['config', 'auto-allocation', 'disable']);
    before = snapshot();
    const unknown = box.run(['allocate', '-s', 'web', '-s', 'brand-new', '--json']);
    expect(unknown.json.error).toMatchObject({ code: 'UNKNOWN_SERVICE_TYPE', details: { serviceType: 'brand-new' } });
    expect(snapshot()).toEqual(before);

    box.run(['config', 'auto-allocation', 'enable']);
    box.run(['config', 'set', 'auto-allocation.require-confirmation', 'true']);
    before = snapshot();
    const asked = box.run(['allocate', '-s', 'web', '-s', 'brand-new', '--env']);
    expect(asked.code).toBe(7);
    expect(asked.stdout).toBe('false;\n');
    const json = box.run(['allocate', '-s', 'web', '-s', 'brand-new', '--json']).json;
    expect(json.error).toMatchObject({ code: 'CONFIRMATION_REQUIRED', details: { serviceType: 'brand-new', proposal: { serviceType: 'brand-new' } } });
    expect(snapshot()).toEqual(before);

    // --yes takes both, the new range written once.
    const yes = box.run(['allocate', '-s', 'web', '-s', 'brand-new', '-s', 'other-new', '--yes', '--json']).json;
    expect(yes.allocations.map((a: { autoAllocated: boolean }) => a.autoAllocated)).toEqual([false, true, true]);
    const config = JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8'));
    expect(Object.keys(config.service_types)).toEqual(expect.arrayContaining(['brand-new', 'other-new']));
  });

  test('--env evals in sh and sets every variable; the eval fails when the batch does', async () => {
    const script = `eval "$("$STYXY" allocate -s web -s db-main -s cache.x -n app --persistent --env)" || exit 9; env`;
    const out = execFileSync('sh', ['-c', script], { cwd: box.cwd, env: { ...box.env, STYXY: BIN }, encoding: 'utf8' });
    const vars = Object.fromEntries(
      out
        .split('\n')
        .filter((l) => /^(STYXY_|PORT=|WEB_|DB_|CACHE_)/.test(l) && !l.startsWith('STYXY_HOME='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const state = box.readState().allocations as { serviceType: string; port: number; lockId: string }[];
    const of = (type: string) => state.find((a) => a.serviceType === type)!;
    expect(vars).toEqual({
      WEB_PORT: String(base),
      WEB_URL: `http://localhost:${base}`,
      DB_MAIN_PORT: String(base + 2),
      DB_MAIN_URL: `http://localhost:${base + 2}`,
      CACHE_X_PORT: String(base + 3),
      CACHE_X_URL: `http://localhost:${base + 3}`,
      PORT: String(base),
      STYXY_PORT: String(base),
      STYXY_URL: `http://localhost:${base}`,
      STYXY_LOCK_ID: of('web').lockId,
      STYXY_SERVICE_TYPE: 'web',
      STYXY_INSTANCE_ID: 'app',
      STYXY_EXISTING: '0',
      STYXY_REUSED: '0',
      STYXY_LISTENING: '0',
      STYXY_WEB_LOCK_ID: of('web').lockId,
      STYXY_WEB_INSTANCE_ID: 'app',
      STYXY_WEB_EXISTING: '0',
      STYXY_WEB_REUSED: '0',
      STYXY_WEB_LISTENING: '0',
      STYXY_DB_MAIN_LOCK_ID: of('db-main').lockId,
      STYXY_DB_MAIN_INSTANCE_ID: 'app',
      STYXY_DB_MAIN_EXISTING: '0',
      STYXY_DB_MAIN_REUSED: '0',
      STYXY_DB_MAIN_LISTENING: '0',
      STYXY_CACHE_X_LOCK_ID: of('cache.x').lockId,
      STYXY_CACHE_X_INSTANCE_ID: 'app',
      STYXY_CACHE_X_EXISTING: '0',
      STYXY_CACHE_X_REUSED: '0',
      STYXY_CACHE_X_LISTENING: '0',
      STYXY_LOCK_IDS: `${of('web').lockId} ${of('db-main').lockId} ${of('cache.x').lockId}`,
      STYXY_SERVICE_TYPES: 'web db-main cache.x',
    });

    // The same sticky batch again gets the same ports back; with db-main's port taken the eval fails.
    const again = box.run(['allocate', '-s', 'web', '-s', 'db-main', '-s', 'cache.x', '-n', 'app', '--json']).json;
    expect(again.allocations.map((a: { reused: boolean; port: number }) => [a.reused, a.port])).toEqual([
      [true, base],
      [true, base + 2],
      [true, base + 3],
    ]);
    box.run(['release', '-s', 'db-main', '-n', 'app']);
    const server = await listen(base + 2, '127.0.0.1');
    try {
      const failing = `eval "$("$STYXY" allocate -s web -s db-main -n other --env)" && echo "$DB_MAIN_PORT"`;
      expect(() => execFileSync('sh', ['-c', failing], { cwd: box.cwd, env: { ...box.env, STYXY: BIN }, encoding: 'utf8', stdio: 'pipe' })).toThrow();
    } finally {
      await closeServer(server);
    }
  });

  test('--quiet, --format dotenv and fish, and the human text each cover every type', () => {
    const quiet = box.run(['allocate', '-s', 'cache.x', '-s', 'web', '-q', '--persistent']);
    expect(quiet.stdout).toBe(`${base + 3}\n${base}\n`);
    const dotenv = box.run(['allocate', '-s', 'web', '-s', 'cache.x', '--format', 'dotenv', '--persistent']);
    expect(dotenv.stdout).toMatch(
      new RegExp(
        `^WEB_PORT='${base + 1}'\nWEB_URL='http://localhost:${base + 1}'\nCACHE_X_PORT='${base + 4}'\nCACHE_X_URL='http://localhost:${base + 4}'\nPORT='${base + 1}'\n`,
      ),
    );
    box.run(['release', '-s', 'web', '--all']);
    box.run(['release', '-s', 'cache.x', '--all']);
    // Every web port is cooling now, for a named instance: the batch takes one and says so on stderr.
    const human = box.run(['allocate', '-s', 'web', '-s', 'db-main', '-n', 'named', '--persistent']);
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n')).toHaveLength(2);
    expect(human.stderr).toMatch(/cool-down/);
    const fish = box.run(['allocate', '-s', 'cache.x', '-s', 'web', '--format', 'fish', '--persistent']);
    expect(fish.stdout).toMatch(/^set -gx CACHE_X_PORT '\d+';\nset -gx CACHE_X_URL 'http:\/\/localhost:\d+';\nset -gx WEB_PORT '\d+';\n/);
  });

  test('a type given twice, a bad name, --port, and type names that clash as variables are refused before anything is written', () => {
    expect(box.run(['allocate', '-s', 'web', '-s', 'web', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    expect(box.run(['allocate', '-s', 'web', '-s', 'bad/name', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    expect(box.run(['allocate', '-s', 'web', '-s', 'db-main', '-p', String(base), '--json']).json.error.code).toBe('INVALID_ARGUMENT');
    const clash = box.run(['allocate', '-s', 'a-b', '-s', 'a.b', '--env']);
    expect(clash.code).toBe(3);
    expect(clash.stdout).toBe('false;\n');
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });

  test('--dry-run answers for every type and writes nothing', () => {
    const before = snapshot();
    const r = box.run(['allocate', '-s', 'web', '-s', 'cache.x', '--dry-run', '--json']).json;
    expect(r).toMatchObject({
      success: true,
      dryRun: true,
      allocations: [
        { port: base, dryRun: true },
        { port: base + 3, dryRun: true },
      ],
    });
    expect(snapshot()).toEqual(before);
  });

  test('run -s web -s cache.x gives the command every variable and releases both when it ends', async () => {
    const script =
      'echo "$WEB_PORT $CACHE_X_PORT $PORT $STYXY_SERVICE_TYPES"; styxy_state=$(cat "$STYXY_HOME/state.json"); echo "$styxy_state" | grep -c lockId';
    const r = box.run(['run', '-s', 'web', '-s', 'cache.x', '--', 'sh', '-c', script]);
    expect(r.code).toBe(0);
    const [vars, held] = r.stdout.trim().split('\n');
    expect(vars).toBe(`${base} ${base + 3} ${base} web cache.x`);
    // Both were held while the command ran, and both are released after.
    expect(held).toBe('2');
    expect(box.readState().allocations).toEqual([]);
    expect(
      box
        .readState()
        .recentlyFreed.map((f: { port: number }) => f.port)
        .sort(),
    ).toEqual([base, base + 3]);
  });

  test('run from a shell that evaluated a batch and a block: its command is not handed their lists of lock ids and ports', () => {
    const stale = { STYXY_LOCK_IDS: 'dev-a-1 api-b-2', STYXY_SERVICE_TYPES: 'dev api', STYXY_PORT_0: '8000', STYXY_PORT_1: '8001' };
    const script = 'echo "[$STYXY_LOCK_IDS] [$STYXY_SERVICE_TYPES] [$STYXY_PORT_1] $STYXY_LOCK_ID"';
    const one = box.run(['run', '-s', 'web', '--', 'sh', '-c', script], { env: stale });
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^\[\] \[\] \[\] web-\S+\n$/);
    // A batch's own lists are its own.
    const two = box.run(['run', '-s', 'web', '-s', 'cache.x', '--', 'sh', '-c', script], { env: stale });
    expect(two.stdout).toMatch(/^\[web-\S+ cache\.x-\S+\] \[web cache\.x\] \[\] web-/);
  });

  test('run with one exhausted type starts nothing and allocates nothing', async () => {
    const server = await listen(base + 2, '127.0.0.1');
    try {
      const marker = path.join(box.dir, 'started');
      const r = box.run(['run', '-s', 'web', '-s', 'db-main', '--json', '--', 'touch', marker]);
      expect([r.code, r.json.error.code]).toEqual([125, 'RANGE_EXHAUSTED']);
      expect(fs.existsSync(marker)).toBe(false);
      expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
    } finally {
      await closeServer(server);
    }
  });
});
