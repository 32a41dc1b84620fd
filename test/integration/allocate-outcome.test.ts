import { spawnSync } from 'child_process';
import * as path from 'path';
import { BIN, ROOT, killAndWait, sleeper, useSandbox } from '../helpers/cli';

// `outcome`: what one allocate came to, in one field (new, claimed, reused, existing), beside the
// older `existing` and `reused` flags, in the CLI's --json and in the API; and the API's release()
// decided by it alone.

type Api = typeof import('../../types/styxy');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require(path.join(ROOT, 'dist', 'api.js')) as Api;

const box = useSandbox();

/** Allocates from a shell that ends at once, before anything listens: the allocation is left reserved. */
function reservedBy(serviceType: string, instanceId: string): { lockId: string; port: number } {
  const r = spawnSync('sh', ['-c', `'${process.execPath}' '${BIN}' allocate -s ${serviceType} -n ${instanceId} --json; true`], {
    cwd: box.cwd,
    env: box.env,
    encoding: 'utf8',
  });
  const json = JSON.parse(r.stdout);
  const listed = box.run(['list', '--json']).json.allocations.find((a: { lockId: string }) => a.lockId === json.lockId);
  expect(listed.owner.reservedUntil).toEqual(expect.any(String));
  return json;
}

describe('allocate --json: outcome', () => {
  test('new, then reused for the same sticky name (also when --ttl renews it), the old flags beside it', async () => {
    const owner = sleeper();
    try {
      const made = box.run(['allocate', '-s', 'dev', '-n', 'web', '--pid', String(owner.pid), '--json']).json;
      expect(made).toMatchObject({ success: true, outcome: 'new', existing: false, reused: false });
      const again = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']).json;
      expect(again).toMatchObject({ outcome: 'reused', existing: false, reused: true, lockId: made.lockId });
      expect(again.ownerChange).toBeUndefined();
      const renewed = box.run(['allocate', '-s', 'dev', '-n', 'web', '--ttl', '1h', '--json']).json;
      expect(renewed).toMatchObject({ outcome: 'reused', ownerChange: 'renew', lockId: made.lockId });
      expect(box.run(['allocate', '-s', 'dev', '--dry-run', '--json']).json).toMatchObject({ outcome: 'new', dryRun: true });
    } finally {
      await killAndWait(owner);
    }
  });

  test('claimed: a sticky allocation whose owner ended before anything listened, taken over by the same name', () => {
    const reserved = reservedBy('dev', 'res');
    const claimed = box.run(['allocate', '-s', 'dev', '-n', 'res', '--json']).json;
    expect(claimed).toMatchObject({ outcome: 'claimed', ownerChange: 'hand-over', existing: false, reused: true, lockId: reserved.lockId });
  });

  test('existing: the running single instance, for another name and for its own', async () => {
    const owner = sleeper();
    try {
      const rag = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--pid', String(owner.pid), '--json']).json;
      expect(rag.outcome).toBe('new');
      expect(box.run(['allocate', '-s', 'ai', '-n', 'other', '--json']).json).toMatchObject({
        outcome: 'existing',
        existing: true,
        reused: false,
        lockId: rag.lockId,
      });
      expect(box.run(['allocate', '-s', 'ai', '-n', 'rag', '--json']).json).toMatchObject({
        outcome: 'existing',
        existing: true,
        reused: true,
        lockId: rag.lockId,
      });
    } finally {
      await killAndWait(owner);
    }
  });

  test('a batch gives each allocation its own outcome', async () => {
    const owner = sleeper();
    try {
      box.run(['allocate', '-s', 'dev', '-n', 'app', '--pid', String(owner.pid), '--json']);
      const batch = box.run(['allocate', '-s', 'dev', '-s', 'api', '-n', 'app', '--json']).json;
      expect(batch.allocations.map((a: { outcome: string }) => a.outcome)).toEqual(['reused', 'new']);
    } finally {
      await killAndWait(owner);
    }
  });
});

describe('API: outcome, and release() decided by it', () => {
  const at = () => ({ home: box.home, cwd: box.cwd });

  test('new and claimed are given back by release(); reused and existing are not', async () => {
    const owner = sleeper();
    try {
      const made = await api.allocate({ serviceType: 'dev', ...at() });
      expect(made.outcome).toBe('new');
      expect(await made.release()).toBe(true);

      reservedBy('dev', 'res');
      const claimed = await api.allocate({ serviceType: 'dev', instanceId: 'res', ...at() });
      expect(claimed).toMatchObject({ outcome: 'claimed', ownerChange: 'hand-over' });
      expect(await claimed.release()).toBe(true);
      expect(box.run(['list', '--json']).json.allocations).toEqual([]);

      box.run(['allocate', '-s', 'dev', '-n', 'live', '--pid', String(owner.pid), '--json']);
      const reused = await api.allocate({ serviceType: 'dev', instanceId: 'live', ...at() });
      expect(reused.outcome).toBe('reused');
      expect(await reused.release()).toBe(false);

      box.run(['allocate', '-s', 'ai', '--pid', String(owner.pid), '--json']);
      const existing = await api.allocate({ serviceType: 'ai', ...at() });
      expect(existing.outcome).toBe('existing');
      expect(await existing.release()).toBe(false);
      expect(box.run(['list', '--json']).json.allocations).toHaveLength(2);
    } finally {
      await killAndWait(owner);
    }
  });

  test('a reservation handed to a pid the call names is claimed too: release() gives it back', async () => {
    const owner = sleeper();
    try {
      const reserved = reservedBy('dev', 'res');
      const claimed = await api.allocate({ serviceType: 'dev', instanceId: 'res', pid: owner.pid, ...at() });
      expect(claimed).toMatchObject({ outcome: 'claimed', ownerChange: 'hand-over', lockId: reserved.lockId, owner: { pid: owner.pid } });
      expect(await claimed.release()).toBe(true);
      expect(box.run(['list', '--json']).json.allocations).toEqual([]);
    } finally {
      await killAndWait(owner);
    }
  });
});
