import { isSameOwner, planRelease } from '../../../lib/core/release';
import { allocation, config, state } from '../../helpers/builders';

const cfg = config({ dev: { port_range: [3000, 3099] }, ai: { port_range: [11400, 11499], instance_behavior: 'single' } });
const a = allocation({ port: 3000, instanceId: 'web', lockId: 'dev-web-1' });
const b = allocation({ port: 3001, instanceId: 'api', lockId: 'dev-api-2' });
const other = allocation({ port: 3002, instanceId: 'web', lockId: 'dev-web-3', project: '/q' });
const ai = allocation({ port: 11400, serviceType: 'ai', instanceId: 'rag', lockId: 'ai-rag-4', project: '/z' });
const st = state(a, b, other, ai);

test('by lock id', () => {
  const plan = planRelease(cfg, st, { lockId: 'dev-api-2' });
  expect(plan).toMatchObject({ kind: 'released', released: [b] });
  if (plan.kind === 'released') expect(plan.state.allocations).toEqual([a, other, ai]);
});

test('by type and instance id, within the project', () => {
  expect(planRelease(cfg, st, { serviceType: 'dev', instanceId: 'web', project: '/q' })).toMatchObject({ released: [other] });
});

test('by type alone: several in the project need --all', () => {
  expect(planRelease(cfg, st, { serviceType: 'dev', project: '/p' })).toMatchObject({ kind: 'rejected', code: 'INVALID_ARGUMENT' });
  expect(planRelease(cfg, st, { serviceType: 'dev', project: '/p', all: true })).toMatchObject({ released: [a, b] });
  expect(planRelease(cfg, st, { serviceType: 'dev', project: '/q' })).toMatchObject({ released: [other] });
});

test('by type alone: a single-instance type releases its holder from any project', () => {
  expect(planRelease(cfg, st, { serviceType: 'ai', project: '/p' })).toMatchObject({ released: [ai] });
});

test('nothing matching is NOT_FOUND', () => {
  expect(planRelease(cfg, st, { lockId: 'nope' })).toMatchObject({ kind: 'rejected', code: 'NOT_FOUND' });
  expect(planRelease(cfg, st, { serviceType: 'dev', instanceId: 'web', project: '/r' })).toMatchObject({ code: 'NOT_FOUND' });
});

describe('isSameOwner', () => {
  const proc = { kind: 'process' as const, pid: 10, startTime: '5' };
  test.each<[string, Parameters<typeof isSameOwner>[0], boolean]>([
    ['the same process', { ...proc, via: 'run' }, true],
    ['another start time (a reused PID)', { ...proc, startTime: '6' }, false],
    ['another PID', { ...proc, pid: 11 }, false],
    ['made persistent', { kind: 'persistent' }, false],
    ['a lease', { kind: 'lease', expiresAt: '2026-01-01T00:00:00Z' }, false],
  ])('%s', (_what, actual, same) => {
    expect(isSameOwner(actual, proc)).toBe(same);
  });
});
