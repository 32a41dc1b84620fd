import { pruneGoneProjects } from '../../../lib/core/prune';
import { allocation, state } from '../../helpers/builders';

const gone = new Set(['/gone']);
const persistent = allocation({ port: 1, project: '/gone', owner: { kind: 'persistent' } });
const lease = allocation({ port: 2, project: '/gone', owner: { kind: 'lease', expiresAt: '2030-01-01T00:00:00.000Z' } });
const reserved = allocation({ port: 3, project: '/gone', owner: { kind: 'process', pid: 9, startTime: '1', reservedUntil: '2030-01-01T00:00:00.000Z' } });
const running = allocation({ port: 4, project: '/gone', owner: { kind: 'process', pid: 9, startTime: '1' } });
const elsewhere = allocation({ port: 5, project: '/here', owner: { kind: 'persistent' } });

test('only what no live process holds, and only of a project that is gone', () => {
  const asked: string[] = [];
  const result = pruneGoneProjects(state(persistent, lease, reserved, running, elsewhere), (p) => (asked.push(p), gone.has(p)));
  expect(result.pruned).toEqual([persistent, lease, reserved]);
  expect(result.state.allocations).toEqual([running, elsewhere]);
  // Each directory is looked at once.
  expect(asked.sort()).toEqual(['/gone', '/here']);
});

test('nothing gone: the same state back', () => {
  const s = state(elsewhere);
  expect(pruneGoneProjects(s, () => false).state).toBe(s);
});
