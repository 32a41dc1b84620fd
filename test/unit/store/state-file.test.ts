import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolvePaths } from '../../../lib/store/paths';
import { readState, splitRejected, writeState } from '../../../lib/store/state-file';
import type { Allocation, State } from '../../../lib/core/types';

// The writer and the reader share one shape check: what one would refuse, the other never writes.
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-sf-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const paths = () => resolvePaths({ STYXY_HOME: dir });
const good = (port: number): Allocation => ({
  lockId: `dev-a${port}-000000`,
  serviceType: 'dev',
  instanceId: `a${port}`,
  port,
  project: '/p',
  owner: { kind: 'process', pid: 42, startTime: '7', detected: true },
  allocatedAt: '2026-01-01T00:00:00.000Z',
});
const pidZero = (port: number): Allocation => ({ ...good(port), owner: { kind: 'process', pid: 0, startTime: null } });

test('a new record the reader would refuse is not written: INTERNAL, and the file is as it was', () => {
  writeState(paths(), { version: 1, allocations: [good(3000)] });
  const before = fs.readFileSync(paths().state, 'utf8');
  const read = readState(paths(), Date.now());
  const next: State = { ...read.state, allocations: [...read.state.allocations, pidZero(3001)] };
  expect(() => writeState(paths(), next, read)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  expect(fs.readFileSync(paths().state, 'utf8')).toBe(before);
});

test('a bad freed-port record is refused the same way', () => {
  const freed = { port: 0, serviceType: 'dev', instanceId: 'a', project: '/p', sticky: false, freedAt: 'x' };
  expect(() => writeState(paths(), { version: 1, allocations: [], recentlyFreed: [freed] })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  expect(fs.existsSync(paths().state)).toBe(false);
});

test('splitRejected: the bad records out, every other kept in order; a fault of the state itself is not split', () => {
  const data = { version: 1, allocations: [good(3000), pidZero(3001), good(3002)], recentlyFreed: [{ port: 'x' }] };
  const split = splitRejected(data)!;
  expect(split.state.allocations.map((a) => a.port)).toEqual([3000, 3002]);
  expect(split.state.recentlyFreed).toEqual([]);
  expect(split.rejected.map((r) => [r.list, r.index, r.reason])).toEqual([
    ['allocations', 1, '/allocations/1/owner/pid: must be >= 1'],
    ['recentlyFreed', 0, expect.stringMatching(/^\/recentlyFreed\/0/)],
  ]);
  expect(splitRejected({ version: 7, allocations: [good(3000), pidZero(3001)] })).toBeNull();
  expect(splitRejected({ version: 1, allocations: {} })).toBeNull();
});

test('readState sets the bad record aside in a private file beside the state and rewrites the state without it, once', () => {
  fs.writeFileSync(paths().state, JSON.stringify({ version: 1, allocations: [good(3000), pidZero(3001)] }), { mode: 0o600 });
  const read = readState(paths(), Date.parse('2026-01-01T00:00:00Z'));
  expect(read.state.allocations.map((a) => a.port)).toEqual([3000]);
  const file = read.setAside?.[0]?.file as string;
  expect(file).toBe('state.rejected-2026-01-01T00-00-00-000Z.json');
  expect(fs.statSync(path.join(dir, file)).mode & 0o777).toBe(0o600);
  expect(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')).records[0].record.port).toBe(3001);
  const again = readState(paths(), Date.parse('2026-01-01T00:00:00Z'));
  expect(again.setAside).toBeUndefined();
  expect(again.state.allocations.map((a) => a.port)).toEqual([3000]);
});
