import { describeOwner } from '../../../lib/app/owner';
import type { Owner } from '../../../lib/core/types';

// An owner in words, as list -v and check print it: only what is known from the record.
test.each<[string, Owner, number | undefined, string]>([
  ['a process', { kind: 'process', pid: 42, startTime: '1', command: 'vite' }, undefined, 'PID 42 (vite)'],
  [
    'an adopted owner: it listened when it took over, which says nothing of now',
    { kind: 'process', pid: 42, startTime: '1', adoptedAt: '2026-01-01T00:00:00.000Z' },
    undefined,
    'PID 42, took over at 2026-01-01T00:00:00.000Z as the process listening on the port',
  ],
  [
    'a container owner seen from the host',
    { kind: 'process', pid: 1, startTime: '1', pidNs: '4026532291', command: 'sleep 1000' },
    7344,
    'PID 1 in PID namespace 4026532291 (host PID 7344) (sleep 1000)',
  ],
  ['a lease', { kind: 'lease', expiresAt: '2026-01-01T00:00:00.000Z' }, undefined, 'lease until 2026-01-01T00:00:00.000Z'],
])('%s', (_name, owner, hostPid, text) => {
  expect(describeOwner(owner, hostPid)).toBe(text);
});
