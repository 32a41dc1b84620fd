import { isCreatedByRun, planRun, type PortListener, type RunAllocation } from '../../../lib/core/run-plan';

const made = (over: Partial<RunAllocation> = {}): RunAllocation => ({
  port: 3000,
  lockId: 'dev-web-aaaaaa',
  outcome: 'new',
  owner: { kind: 'process', pid: 10, startTime: '1' },
  ...over,
});
const facts = (entries: Array<[string, PortListener]>) => new Map(entries);

describe('planRun', () => {
  test('a new allocation: start, and release it at the end', () => {
    expect(planRun([made()], facts([]))).toEqual({ kind: 'start', release: ['dev-web-aaaaaa'], keep: [] });
  });

  test.each<[string, Partial<RunAllocation>]>([
    ['a sticky reuse', { outcome: 'reused', owner: { kind: 'persistent' } }],
    ['an existing single instance', { outcome: 'existing', owner: { kind: 'lease', expiresAt: '2026-01-01T00:00:00Z' } }],
    ["an existing single instance that is also the caller's sticky one", { outcome: 'existing' }],
  ])('%s nobody listens on: start on it, keep it', (_what, over) => {
    expect(planRun([made(over)], facts([['dev-web-aaaaaa', { busy: false }]]))).toEqual({ kind: 'start', release: [], keep: ['dev-web-aaaaaa'] });
  });

  test('a found allocation something listens on: running, named by the listener', () => {
    const a = made({ outcome: 'reused' });
    expect(planRun([a], facts([['dev-web-aaaaaa', { busy: true, pid: 77 }]]))).toEqual({
      kind: 'running',
      allocation: a,
      pid: 77,
      release: [],
      listening: true,
    });
  });

  test('a listener that could not be named: the owner is named instead; a persistent one names nobody', () => {
    expect(planRun([made({ outcome: 'existing' })], facts([['dev-web-aaaaaa', { busy: true }]]))).toMatchObject({ kind: 'running', pid: 10 });
    expect(planRun([made({ outcome: 'existing', owner: { kind: 'persistent' } })], facts([['dev-web-aaaaaa', { busy: true }]]))).toMatchObject({
      kind: 'running',
      pid: null,
    });
  });

  test('a new allocation is never taken for a running service, whatever its port says', () => {
    expect(planRun([made()], facts([['dev-web-aaaaaa', { busy: true, pid: 5 }]]))).toMatchObject({ kind: 'start' });
  });

  test('several allocations: one already running stops the start, and only the new ones are released', () => {
    const fresh = made({ lockId: 'api-x-aaaaaa', port: 8000 });
    const found = made({ lockId: 'dev-web-aaaaaa', outcome: 'reused' });
    expect(planRun([fresh, found], facts([['dev-web-aaaaaa', { busy: true, pid: 9 }]]))).toEqual({
      kind: 'running',
      allocation: found,
      pid: 9,
      release: ['api-x-aaaaaa'],
      listening: true,
    });
    expect(planRun([fresh, found], facts([['dev-web-aaaaaa', { busy: false }]]))).toEqual({
      kind: 'start',
      release: ['api-x-aaaaaa'],
      keep: ['dev-web-aaaaaa'],
    });
  });

  test('isCreatedByRun', () => {
    const outcomes = ['new', 'claimed', 'reused', 'existing'] as const;
    expect(outcomes.map((outcome) => isCreatedByRun(made({ outcome })))).toEqual([true, true, false, false]);
  });
});

describe('what run takes over, and another run', () => {
  test('a found allocation run took over from an ended owner is released at its end', () => {
    expect(planRun([made({ outcome: 'claimed' })], facts([['dev-web-aaaaaa', { busy: false }]]))).toEqual({
      kind: 'start',
      release: ['dev-web-aaaaaa'],
      keep: [],
    });
  });

  test('a found allocation a live run owns is running, even with nothing listening yet; the run is not named as its server', () => {
    const a = made({ outcome: 'reused', owner: { kind: 'process', pid: 55, startTime: '1', via: 'run' } });
    expect(planRun([a], facts([['dev-web-aaaaaa', { busy: false }]]))).toEqual({ kind: 'running', allocation: a, pid: null, release: [], listening: false });
    // A single instance a live run holds: its existingPid is that run, not a server either.
    const single = made({ outcome: 'existing', existingPid: 55, owner: { kind: 'process', pid: 55, startTime: '1', via: 'run' } });
    expect(planRun([single], facts([['dev-web-aaaaaa', { busy: false }]]))).toMatchObject({ kind: 'running', pid: null });
  });

  test('a run owner that has ended (reserved) does not count as running', () => {
    const a = made({ outcome: 'reused', owner: { kind: 'process', pid: 55, startTime: '1', via: 'run', reservedUntil: '2026-01-01T00:00:00Z' } });
    expect(planRun([a], facts([['dev-web-aaaaaa', { busy: false }]])).kind).toBe('start');
  });

  test('the server of an ended run, still starting: running, named by that server, never by the dead run', () => {
    const owner = { kind: 'process' as const, pid: 55, startTime: '1', via: 'run' as const, reservedUntil: '2026-01-01T00:00:00Z' };
    const a = made({ outcome: 'reused', owner, starting: true, existingPid: 66 });
    expect(planRun([a], facts([['dev-web-aaaaaa', { busy: false }]]))).toEqual({ kind: 'running', allocation: a, pid: 66, release: [], listening: false });
    const unknown = made({ outcome: 'reused', owner, starting: true });
    expect(planRun([unknown], facts([['dev-web-aaaaaa', { busy: false }]]))).toMatchObject({ kind: 'running', pid: null });
  });
});
