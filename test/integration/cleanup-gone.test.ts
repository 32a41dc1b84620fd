import * as fs from 'fs';
import * as path from 'path';
import { sleeper, useSandbox } from '../helpers/cli';
import { Strays } from '../helpers/servers';

// cleanup offers, and cleanup --gone does, releasing the allocations of project directories that
// no longer exist, unless a live process holds them.

const box = useSandbox();
const strays = new Strays();
afterEach(() => strays.killAll());

test('cleanup offers; --gone drops persistent and leased allocations of a deleted project, nothing else', () => {
  const gone = path.join(box.dir, 'gone-tree');
  fs.mkdirSync(gone);
  const owner = strays.add(sleeper());
  const persistent = box.run(['allocate', '-s', 'dev', '-n', 'wt', '--persistent', '--json'], { cwd: gone }).json;
  const lease = box.run(['allocate', '-s', 'api', '-n', 'wt', '--ttl', '1h', '--json'], { cwd: gone }).json;
  const live = box.run(['allocate', '-s', 'dev', '-n', 'srv', '--pid', String(owner.pid), '--json'], { cwd: gone }).json;
  const kept = box.run(['allocate', '-s', 'dev', '-n', 'here', '--persistent', '--json']).json;
  fs.rmSync(gone, { recursive: true });

  const offer = box.run(['cleanup', '--json']);
  expect(offer.code).toBe(0);
  expect(offer.json).toMatchObject({ success: true, gone: [] });
  expect(offer.json.goneFound.map((a: { lockId: string }) => a.lockId).sort()).toEqual([persistent.lockId, lease.lockId].sort());
  const offered = box.run(['cleanup']).stdout;
  expect(offered).toContain('Free them: styxy cleanup --gone');
  expect(offered).not.toContain('Nothing to clean up'); // it lists what there is to clean up
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(4);

  const done = box.run(['cleanup', '--gone', '--json']);
  expect(done.json.gone.map((a: { lockId: string }) => a.lockId).sort()).toEqual([persistent.lockId, lease.lockId].sort());
  const left = box.run(['list', '--json']).json.allocations.map((a: { lockId: string }) => a.lockId);
  expect(left.sort()).toEqual([live.lockId, kept.lockId].sort());
  const audit = box.run(['audit', '--action', 'cleanup', '--json']).json;
  expect(JSON.stringify(audit)).toContain('project gone');
  expect(box.run(['cleanup', '--gone']).stdout).toContain('Nothing to clean up.');
});
