import * as fs from 'fs';
import * as path from 'path';
import { sandbox, type Sandbox } from '../helpers/cli';

// A state file written by an older or newer Styxy: what this one keeps, and what it refuses to touch.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const statePath = () => path.join(box.home, 'state.json');
const homeFiles = () => fs.readdirSync(box.home).sort();

function writeHomeFile(name: string, text: string): void {
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, name), text, { mode: 0o600 });
}

describe('a state written by another version of Styxy', () => {
  const known = {
    lockId: 'dev-kept-000001',
    serviceType: 'dev',
    instanceId: 'kept',
    port: 3007,
    allocatedAt: '2026-01-01T00:00:00.000Z',
  };

  test('unknown fields on an allocation, its owner and the top level are kept and written back unchanged', () => {
    const extraAllocation = { ...known, project: box.cwd, owner: { kind: 'persistent', since: 'boot-7', tags: ['x'] }, badge: { colour: 'blue' } };
    const plain = {
      ...known,
      lockId: 'dev-plain-000002',
      instanceId: 'plain',
      port: 3008,
      project: box.cwd,
      owner: { kind: 'lease', expiresAt: '2999-01-01T00:00:00.000Z' },
    };
    const state = { version: 1, generator: 'styxy 0.9', allocations: [extraAllocation, plain], recentlyReleased: [{ port: 3001, at: 'then' }] };
    writeHomeFile('state.json', JSON.stringify(state));

    const listed = box.run(['list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).not.toMatch(/unusable/);
    expect(listed.json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([known.lockId, plain.lockId]);

    const added = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
    expect(added.code).toBe(0);
    const released = box.run(['release', plain.lockId, '--json']);
    expect(released.code).toBe(0);

    expect(homeFiles().filter((f) => f.includes('corrupt'))).toEqual([]);
    const after = box.readState();
    expect(after.generator).toBe('styxy 0.9');
    expect(after.recentlyReleased).toEqual(state.recentlyReleased);
    expect(after.allocations[0]).toEqual(extraAllocation);
    expect(after.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([known.lockId, added.json.lockId]);
    // Written back in its own line, key order and all.
    expect(fs.readFileSync(statePath(), 'utf8')).toContain(`    ${JSON.stringify(extraAllocation)},\n`);
  });

  test('a state from a newer version fails every command that needs it with STATE_TOO_NEW, and stays byte-identical', () => {
    const text = `{"version": 4, "leases": {"dev-x": {"port": 3000}}, "allocations": "kept elsewhere"}\n`;
    writeHomeFile('state.json', text);
    const before = homeFiles();
    const commands = [
      ['allocate', '-s', 'dev', '--json'],
      ['allocate', '-s', 'brand-new-type', '--json'],
      ['list', '--json'],
      ['release', 'dev-x-000000', '--json'],
      ['release', '-s', 'dev', '--json'],
      ['check', '3000', '--json'],
      ['scan', '--start', '3000', '--end', '3010', '--json'],
      ['cleanup', '--json'],
      ['config', 'set', 'auto-allocation.gap-size', '5', '--json'],
    ];
    for (const args of commands) {
      const r = box.run(args);
      expect({ args, code: r.code, error: r.json?.error?.code }).toEqual({ args, code: 17, error: 'STATE_TOO_NEW' });
      expect(r.json.error.details).toMatchObject({ stateVersion: 4, knownVersion: 3 });
      expect(r.json.error.message).toContain('state version 4');
      expect(r.json.error.message).toContain('state versions 1 to 3');
      expect(fs.readFileSync(statePath(), 'utf8')).toBe(text);
    }
    const run = box.run(['run', '-s', 'dev', '--', process.execPath, '-e', 'require("fs").writeFileSync("ran", "")']);
    expect(run.code).toBe(125);
    expect(box.run(['run', '-s', 'dev', '--json', '--', 'true']).json.error.code).toBe('STATE_TOO_NEW');
    expect(run.stderr).toContain('state version 4');
    expect(fs.existsSync(path.join(box.cwd, 'ran'))).toBe(false);
    expect(homeFiles()).toEqual(before);

    const doctor = box.run(['doctor', '--json']);
    expect(doctor.json.error.code).toBe('NEEDS_ATTENTION');
    const state = doctor.json.error.details.checks.find((c: { name: string }) => c.name === 'state');
    expect(state.status).toBe('fail');
    expect(state.message).toContain('state version 4');
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(text);
  });
});
