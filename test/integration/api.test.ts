import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as util from 'util';
import { ROOT, freePortBlock, sandbox, sleeper, killAndWait, type Sandbox, rejection } from '../helpers/cli';

// The Node API as users get it: the built bundle (dist/api.js, dist/api.mjs), in this process
// and in child processes, against the same files as the real CLI.

type Api = typeof import('../../types/styxy');
const API_CJS = path.join(ROOT, 'dist', 'api.js');
const API_ESM = path.join(ROOT, 'dist', 'api.mjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require(API_CJS) as Api;

let box: Sandbox;
let at: { home: string; cwd: string };
beforeEach(() => {
  box = sandbox();
  at = { home: box.home, cwd: box.cwd };
});
afterEach(() => box.cleanup());

const cliList = () => box.run(['list', '--json']).json.allocations as Array<Record<string, any>>;

/** Runs a script in a child Node process with the sandbox's environment. */
function node(script: string, ext: 'js' | 'mjs' = 'js', env: NodeJS.ProcessEnv = {}) {
  const file = path.join(box.dir, `script-${Math.random().toString(16).slice(2)}.${ext}`);
  fs.writeFileSync(file, script);
  return spawnSync(process.execPath, [file], { cwd: box.cwd, env: { ...box.env, ...env }, encoding: 'utf8', input: '' });
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('allocate, list, release', () => {
  test('allocate is owned by this process, and the CLI sees the same allocation', async () => {
    const a = await api.allocate({ serviceType: 'dev', ...at });
    expect(a).toMatchObject({ port: 3000, serviceType: 'dev', existing: false, reused: false, autoAllocated: false, dryRun: false });
    expect(a.lockId).toMatch(/^dev-/);
    expect(a.owner).toMatchObject({ kind: 'process', pid: process.pid });
    expect(cliList()).toEqual([expect.objectContaining({ lockId: a.lockId, port: 3000, owner: expect.objectContaining({ pid: process.pid }) })]);
    // The CLI goes on from there, and the API sees the CLI's allocation.
    expect(box.run(['allocate', '-s', 'dev', '-n', 'cli', '--persistent', '--json']).json.port).toBe(3001);
    expect((await api.list({ ...at })).map((x) => [x.port, x.instanceId === 'cli'])).toEqual([
      [3000, false],
      [3001, true],
    ]);
    expect(await api.list({ serviceType: 'api', ...at })).toEqual([]);
    await a.release();
    expect(cliList().map((x) => x.port)).toEqual([3001]);
    // Releasing twice is not an error for the allocation object itself.
    await a.release();
  });

  test('release by lock id and by selector resolve to what was released; NOT_FOUND otherwise', async () => {
    const a = await api.allocate({ serviceType: 'api', instanceId: 'web', persistent: true, ...at });
    const b = await api.allocate({ serviceType: 'api', instanceId: 'worker', ...at });
    expect(await api.release({ serviceType: 'api', instanceId: 'web', ...at })).toEqual([expect.objectContaining({ lockId: a.lockId, port: a.port })]);
    expect((await api.release(b.lockId, at)).map((x) => x.lockId)).toEqual([b.lockId]);
    const err = await rejection(api.release(b.lockId, at));
    expect(err).toBeInstanceOf(api.StyxyError);
    expect(err.code).toBe('NOT_FOUND');
    // The CLI says the same.
    expect(box.run(['release', b.lockId, '--json']).json.error.code).toBe('NOT_FOUND');
    // An allocation object is not a selector: its release() is the way.
    const c = await api.allocate({ serviceType: 'api', ...at });
    const misuse = await rejection(api.release(c as any, at));
    expect([misuse.code, misuse.message]).toEqual(['INVALID_ARGUMENT', expect.stringContaining('allocation.release()')]);
    expect(cliList().map((x) => x.lockId)).toEqual([c.lockId]);
  });

  test('the same instance id in the same project gets its own allocation back (reused)', async () => {
    const a = await api.allocate({ serviceType: 'dev', instanceId: 'web', ...at });
    const again = await api.allocate({ serviceType: 'dev', instanceId: 'web', ...at });
    expect(again).toMatchObject({ port: a.port, lockId: a.lockId, reused: true });
  });

  test('owner options: pid, ttl (ms or duration) and persistent, one at a time', async () => {
    const owner = sleeper();
    try {
      const byPid = await api.allocate({ serviceType: 'dev', pid: owner.pid, ...at });
      expect(byPid.owner).toMatchObject({ kind: 'process', pid: owner.pid });
      const lease = await api.allocate({ serviceType: 'dev', ttl: '30m', ...at });
      expect(lease.owner.kind).toBe('lease');
      const leaseMs = await api.allocate({ serviceType: 'dev', ttl: 60_000, ...at });
      expect(leaseMs.owner).toMatchObject({ kind: 'lease' });
      const expires = Date.parse((leaseMs.owner as { expiresAt: string }).expiresAt);
      expect(Math.abs(expires - Date.now() - 60_000)).toBeLessThan(10_000);
      expect((await api.allocate({ serviceType: 'dev', persistent: true, ...at })).owner).toEqual({ kind: 'persistent' });
      await killAndWait(owner);
      // The pid owner has ended: the next call forgets its allocation, as the CLI's would.
      expect((await api.list(at)).map((x) => x.lockId)).not.toContain(byPid.lockId);
    } finally {
      await killAndWait(owner);
    }
    const both = await rejection(api.allocate({ serviceType: 'dev', ttl: '1h', persistent: true, ...at }));
    expect(both).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  test('dryRun writes nothing, and its release does nothing', async () => {
    const a = await api.allocate({ serviceType: 'dev', dryRun: true, ...at });
    expect(a).toMatchObject({ port: 3000, dryRun: true });
    expect(fs.existsSync(path.join(box.home, 'state.json')) ? box.readState().allocations : []).toEqual([]);
    await a.release();
  });

  test('home and cwd: another home is another set of allocations; the project comes from cwd', async () => {
    const other = { home: path.join(box.dir, 'other-home'), cwd: box.cwd };
    const a = await api.allocate({ serviceType: 'dev', ...at });
    const b = await api.allocate({ serviceType: 'dev', ...other });
    expect([a.port, b.port]).toEqual([3000, 3000]);
    const elsewhere = path.join(box.dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    expect((await api.allocate({ serviceType: 'dev', home: box.home, cwd: elsewhere })).project).toBe(elsewhere);
  });

  test('STYXY_HOME is the default home, as for the CLI', () => {
    const r = node(`require(${JSON.stringify(API_CJS)}).allocate({ serviceType: 'dev', persistent: true }).then((a) => console.log(a.port))`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('3000');
    expect(cliList().map((x) => x.port)).toEqual([3000]);
  });
});

describe('failures reject with a StyxyError carrying the CLI code', () => {
  test('bad input: INVALID_ARGUMENT, nothing written', async () => {
    for (const bad of [
      { serviceType: 'no spaces' },
      { serviceType: 'dev', port: 70000 },
      { serviceType: 'dev', port: '3000' },
      { serviceType: 'dev', pid: -1 },
      { serviceType: 'dev', ttl: 'soon' },
      { serviceType: 'dev', instanceId: '' },
      { serviceType: 'dev', servicetype: 'typo' },
      {},
    ]) {
      const err = await rejection(api.allocate({ ...(bad as any), ...at }));
      expect({ bad, code: err.code, isStyxy: err instanceof api.StyxyError }).toEqual({ bad, code: 'INVALID_ARGUMENT', isStyxy: true });
      expect(err.message.length).toBeGreaterThan(10);
    }
    expect((await rejection(api.allocate(null as any))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(api.withPort({ serviceType: 'dev', ...at }, 'not a function' as any))).code).toBe('INVALID_ARGUMENT');
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });

  test('the error is a StyxyError by name too: its class, and how Node prints it', async () => {
    // The bundle is minified; a caller that logs the error or compares the class by name (two
    // copies of the package) must still see StyxyError, not a minified name.
    const err = await rejection(api.allocate({ serviceType: 'no spaces', ...at }));
    expect(api.StyxyError.name).toBe('StyxyError');
    expect(err.constructor.name).toBe('StyxyError');
    expect(util.inspect(err).split('\n')[0]).toBe(`StyxyError: ${err.message}`);
  });

  test('a full range: RANGE_EXHAUSTED with suggestions, as the CLI reports it', async () => {
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { tiny: { port_range: [base, base + 1] } } });
    const server = await listen(base + 1);
    try {
      expect((await api.allocate({ serviceType: 'tiny', ...at })).port).toBe(base);
      const err = await rejection(api.allocate({ serviceType: 'tiny', ...at }));
      const cli = box.run(['allocate', '-s', 'tiny', '--json']).json.error;
      expect(err).toBeInstanceOf(api.StyxyError);
      expect({ code: err.code, message: err.message, suggestions: err.suggestions, exitCode: err.exitCode }).toEqual({
        code: cli.code,
        message: cli.message,
        suggestions: cli.suggestions,
        exitCode: 5,
      });
      expect(err.suggestions.length).toBeGreaterThan(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('require_confirmation: CONFIRMATION_REQUIRED without yes (never a prompt), the range with yes: true', async () => {
    box.writeConfig({ auto_allocation: { require_confirmation: true } });
    const err = await rejection(api.allocate({ serviceType: 'grafana', ...at }));
    expect(err).toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
    expect(err.details.proposal).toMatchObject({ serviceType: 'grafana' });
    expect(JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).service_types).toBeUndefined();
    const a = await api.allocate({ serviceType: 'grafana', yes: true, ...at });
    expect(a).toMatchObject({ autoAllocated: true, newRange: err.details.proposal.range });
    expect(a.port).toBe(a.newRange![0]);
  });

  test("a near miss of a known type: SIMILAR_SERVICE_TYPE with the CLI's suggestion, created with newType: true", async () => {
    const err = await rejection(api.allocate({ serviceType: 'dve', ...at }));
    expect(err).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE' });
    expect(err.message).toBe(box.run(['allocate', '-s', 'dve', '--json']).json.error.message);
    expect(await api.allocate({ serviceType: 'dve', newType: true, ...at })).toMatchObject({ serviceType: 'dve', autoAllocated: true });
  });

  test('a config the CLI rejects is rejected alike (INVALID_CONFIG)', async () => {
    fs.mkdirSync(box.home, { recursive: true });
    fs.writeFileSync(path.join(box.home, 'config.json'), '{ not json');
    const err = await rejection(api.allocate({ serviceType: 'dev', ...at }));
    expect(err.code).toBe(box.run(['allocate', '-s', 'dev', '--json']).json.error.code);
    expect(err.code).toBe('INVALID_CONFIG');
  });
});

describe('withPort', () => {
  test('releases when fn returns, throws or rejects, and passes on its result or error', async () => {
    const seen: number[] = [];
    expect(
      await api.withPort({ serviceType: 'test', ...at }, (port, allocation) => {
        seen.push(port);
        expect(allocation.port).toBe(port);
        expect(cliList().map((x) => x.port)).toEqual([port]);
        return 'done';
      }),
    ).toBe('done');
    expect(cliList()).toEqual([]);
    const thrown = await rejection(
      api.withPort({ serviceType: 'test', ...at }, (port) => {
        seen.push(port);
        throw new Error('sync boom');
      }),
    );
    expect(thrown.message).toBe('sync boom');
    expect(cliList()).toEqual([]);
    const rejected = await rejection(
      api.withPort({ serviceType: 'test', ...at }, async (port) => {
        seen.push(port);
        await new Promise((r) => setImmediate(r));
        throw new Error('async boom');
      }),
    );
    expect(rejected.message).toBe('async boom');
    expect(cliList()).toEqual([]);
    // fn released it itself: still fine.
    await api.withPort({ serviceType: 'test', ...at }, async (_port, allocation) => {
      await api.release(allocation.lockId, at);
    });
    expect(seen).toHaveLength(3);
  });

  test('nested withPort calls get different ports', async () => {
    const ports = await api.withPort({ serviceType: 'test', ...at }, (outer) => api.withPort({ serviceType: 'test', ...at }, (inner) => [outer, inner]));
    expect(new Set(ports).size).toBe(2);
    expect(cliList()).toEqual([]);
  });

  test("an existing single instance is someone else's: withPort and release() leave it", async () => {
    const running = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--persistent', '--json']).json;
    const port = await api.withPort({ serviceType: 'ai', ...at }, (p, allocation) => {
      expect(allocation.existing).toBe(true);
      return p;
    });
    expect(port).toBe(running.port);
    const a = await api.allocate({ serviceType: 'ai', ...at });
    await a.release();
    expect(cliList().map((x) => x.lockId)).toEqual([running.lockId]);
  });
});

describe('what someone else has made theirs', () => {
  const audited = () => box.run(['audit', '--limit', '0', '--json']).json.events.map((e: Record<string, string>) => `${e.action} ${e.lockId}`);

  test('withPort on a persistent sticky allocation uses it and leaves it: no hand-over, no release', async () => {
    const kept = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    const port = await api.withPort({ serviceType: 'dev', instanceId: 'web', ...at }, (p, allocation) => {
      expect(allocation).toMatchObject({ reused: true, owner: { kind: 'persistent' } });
      expect(allocation.ownerChange).toBeUndefined();
      return p;
    });
    expect(port).toBe(kept.port);
    expect(cliList()).toEqual([expect.objectContaining({ lockId: kept.lockId, owner: { kind: 'persistent' } })]);
    expect(audited()).toEqual([`allocate ${kept.lockId}`]);
  });

  test('release() of an allocation made persistent meanwhile leaves it, resolves false and says why', async () => {
    const warnings: string[] = [];
    const a = await api.allocate({ serviceType: 'dev', instanceId: 'web', ...at, onWarning: (m) => warnings.push(m) });
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json).toMatchObject({ lockId: a.lockId, ownerChange: 'persist' });
    expect(await a.release()).toBe(false);
    expect(warnings).toEqual([expect.stringContaining('has another owner now')]);
    expect(cliList()).toEqual([expect.objectContaining({ lockId: a.lockId, owner: { kind: 'persistent' } })]);
    expect(audited()).toEqual([`allocate ${a.lockId}`, `persist ${a.lockId}`]);
  });

  test('withPort takes over a sticky allocation whose owner ended (reserved), and releases it at the end', async () => {
    box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '30']);
    const once = spawnSync('sh', ['-c', `"${process.execPath}" "${path.join(ROOT, 'bin', 'styxy')}" allocate -s dev -n web -q; true`], {
      cwd: box.cwd,
      env: box.env,
      encoding: 'utf8',
    });
    const port = Number(once.stdout);
    const inside = await api.withPort({ serviceType: 'dev', instanceId: 'web', ...at }, (p, allocation) => {
      expect(allocation).toMatchObject({ reused: true, ownerChange: 'hand-over', owner: { kind: 'process', pid: process.pid } });
      return [p, cliList()] as const;
    });
    expect(inside[0]).toBe(port);
    expect(inside[1]).toEqual([expect.objectContaining({ port, owner: expect.objectContaining({ pid: process.pid }) })]);
    expect(cliList()).toEqual([]);
  });
});

describe('as a library in another program', () => {
  test('nothing is printed and nothing exits, failures included; the allocation dies with its process', () => {
    const r = node(`
      const { allocate, list, release } = require(${JSON.stringify(API_CJS)});
      (async () => {
        const a = await allocate({ serviceType: 'dev' });
        await allocate({ serviceType: 'bad name' }).catch((e) => e);
        await release('dev-nothing-000000').catch((e) => e);
        await allocate({ serviceType: 'dev', port: 0 }).catch((e) => e);
        require('fs').writeFileSync('result.json', JSON.stringify({ pid: process.pid, port: a.port, owner: a.owner.pid, listed: (await list()).length }));
      })();
      process.on('exit', (code) => require('fs').writeFileSync('exit.txt', String(code)));
    `);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(fs.readFileSync(path.join(box.cwd, 'result.json'), 'utf8'));
    expect(result).toMatchObject({ port: 3000, listed: 1 });
    expect(result.owner).toBe(result.pid);
    expect(fs.readFileSync(path.join(box.cwd, 'exit.txt'), 'utf8')).toBe('0');
    // Its owner has ended: the CLI forgets it.
    expect(cliList()).toEqual([]);
  });

  test('importing does no work: no file is touched, and neither yargs nor the heavier built-ins load', () => {
    const r = node(`
      const before = new Set(process.moduleLoadList);
      const api = require(${JSON.stringify(API_CJS)});
      const loaded = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13));
      console.log(JSON.stringify({ keys: Object.keys(api).sort(), loaded, files: Object.keys(require.cache).map((f) => require('path').basename(f)) }));
    `);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.keys).toEqual(['StyxyError', 'allocate', 'allocateMany', 'envVars', 'list', 'release', 'stop', 'whoHolds', 'withPort']);
    expect(out.loaded.filter((m: string) => ['child_process', 'net', 'crypto', 'stream', 'tty'].includes(m))).toEqual([]);
    expect(out.files.filter((f: string) => !f.startsWith('script-'))).toEqual(['api.js']);
    expect(fs.existsSync(box.home)).toBe(false);
  });

  test('ESM: the named imports of the issue, one StyxyError class for import and require', () => {
    const r = node(
      `
      import { allocate, release, list, withPort, StyxyError } from ${JSON.stringify(API_ESM)};
      import { createRequire } from 'module';
      const cjs = createRequire(import.meta.url)(${JSON.stringify(API_CJS)});
      const a = await allocate({ serviceType: 'dev' });
      const inside = await withPort({ serviceType: 'test' }, async (port) => (await list()).map((x) => x.port).concat(port));
      await a.release();
      const err = await release('dev-nothing-000000').catch((e) => e);
      console.log(JSON.stringify({ port: a.port, inside, after: (await list()).length, code: err.code, same: StyxyError === cjs.StyxyError && err instanceof cjs.StyxyError }));
    `,
      'mjs',
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ port: 3000, inside: [3000, 9200, 9200], after: 0, code: 'NOT_FOUND', same: true });
  });
});
