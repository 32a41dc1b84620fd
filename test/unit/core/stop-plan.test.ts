import { planStop, type StopFacts, type StopProcess } from '../../../lib/core/stop-plan';
import { allocation } from '../../helpers/builders';

const shell = { pid: 100, startTime: '10' };
const init = { pid: 1, startTime: '1' };
const proc = (pid: number, ancestors: StopProcess['ancestors'], extra: Partial<StopProcess> = {}): StopProcess => ({
  pid,
  startTime: String(pid),
  ancestors,
  ...extra,
});
/** A server started by the shell through a wrapper: shell → 200 (sh -c) → 300 (python). */
const wrapper = { pid: 200, startTime: '200' };
const server = proc(300, [wrapper, shell, init], { uid: 1000, command: 'python3 -m http.server' });
const ownerShell = proc(100, [init]);

const detected = allocation({ port: 3000, lockId: 'dev-web-1', owner: { kind: 'process', pid: 100, startTime: '10', detected: true } });
const named = allocation({ port: 3000, lockId: 'dev-web-1', owner: { kind: 'process', pid: 100, startTime: '10' } });
const byRun = allocation({ port: 3000, lockId: 'dev-web-1', owner: { kind: 'process', pid: 100, startTime: '10', via: 'run' } });
const persistent = allocation({ port: 3000, lockId: 'dev-web-1', owner: { kind: 'persistent' } });

const base: StopFacts = { port: 3000, allocation: null, owner: null, listeners: [], hiddenListener: false, callerUid: 1000, force: false };

test.each<[string, Partial<StopFacts>, Record<string, unknown>]>([
  [
    'a run: run itself, which ends its command and releases',
    { allocation: byRun, owner: { ...ownerShell, startTime: '10' }, listeners: [server] },
    { kind: 'end-tree', reason: 'run', root: { pid: 100 } },
  ],
  [
    'a detected owner (a shell): what it started, not the shell',
    { allocation: detected, owner: { ...ownerShell, startTime: '10' }, listeners: [server] },
    { kind: 'end-tree', reason: 'started-by-owner', root: { pid: 200, startTime: '200' } },
  ],
  [
    'a detected owner whose direct child serves',
    { allocation: detected, owner: { ...ownerShell, startTime: '10' }, listeners: [proc(300, [shell, init])] },
    { kind: 'end-tree', root: { pid: 300 } },
  ],
  ['the owner is the server', { allocation: detected, owner: { ...server }, listeners: [server] }, { kind: 'end-tree', reason: 'owner', root: { pid: 300 } }],
  [
    'an owner named with --pid that is not the listener: what it started, not the owner',
    { allocation: named, owner: { ...ownerShell, startTime: '10' }, listeners: [server] },
    { kind: 'end-tree', reason: 'started-by-owner', root: { pid: 200 } },
  ],
  [
    '... with --force: its whole tree',
    { allocation: named, owner: { ...ownerShell, startTime: '10' }, listeners: [server], force: true },
    { kind: 'end-tree', reason: 'forced', root: { pid: 100 } },
  ],
  ['an owner named with --pid, nothing listening: release only', { allocation: named, owner: { ...ownerShell, startTime: '10' } }, { kind: 'release-only' }],
  [
    '... with --force: its whole tree',
    { allocation: named, owner: { ...ownerShell, startTime: '10' }, force: true },
    { kind: 'end-tree', reason: 'forced', root: { pid: 100 } },
  ],
  ['init listening, even with --force', { listeners: [proc(1, [])], force: true }, { kind: 'refused', code: 'STOP_REFUSED', reason: 'init' }],
  [
    "a PID namespace's init, even with --force",
    { listeners: [{ ...server, namespaceInit: true }], force: true },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'namespace-init' },
  ],
  [
    'the caller or its ancestor, even with --force',
    { listeners: [server], spared: [555, 300, 1], force: true },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'caller-in-tree' },
  ],
  [
    'an owner named with --pid that is an ancestor of the caller, with --force',
    { allocation: named, owner: { ...ownerShell, startTime: '10' }, spared: [555, 100, 1], force: true },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'caller-in-tree' },
  ],
  [
    'an owner (adopted, say) of another uid',
    { allocation: detected, owner: { ...server, uid: 1001 }, listeners: [{ ...server, uid: 1001 }] },
    { kind: 'refused', code: 'FORCE_REQUIRED' },
  ],
  [
    '... with --force',
    { allocation: detected, owner: { ...server, uid: 1001 }, listeners: [{ ...server, uid: 1001 }], force: true },
    { kind: 'end-tree', reason: 'owner', root: { pid: 300 } },
  ],
  [
    'a detected owner, nothing listening: release only, the shell is left alone',
    { allocation: detected, owner: { ...ownerShell, startTime: '10' } },
    { kind: 'release-only' },
  ],
  ['a persistent allocation, nothing listening: release only', { allocation: persistent }, { kind: 'release-only' }],
  [
    'a port styxy compose allocated, docker-proxy listening: refused even with --force, and Compose named to stop it',
    {
      allocation: { ...persistent, project: '/srv/my app', compose: { project: 'app-1a2b', service: 'db' } },
      listeners: [proc(400, [init], { uid: 0, command: '/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 3000' })],
      force: true,
    },
    {
      kind: 'refused',
      code: 'STOP_REFUSED',
      reason: 'docker',
      suggestions: ["cd '/srv/my app' && styxy compose -- down", 'Or that service alone: docker compose -p app-1a2b stop db'],
    },
  ],
  [
    'a compose allocation with nothing listening (the stack is down): refused all the same, Compose releases it',
    { allocation: { ...persistent, compose: { project: 'app-1a2b', service: 'db' } } },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'docker' },
  ],
  [
    'docker-proxy on a port outside Styxy: any outsider, ended only with --force',
    { listeners: [proc(400, [init], { uid: 1000, command: 'docker-proxy -proto tcp' })], force: true },
    { kind: 'end-tree', reason: 'forced', root: { pid: 400 } },
  ],

  [
    'a persistent allocation served by a process this caller cannot see: refused and kept, even with --force',
    { allocation: persistent, hiddenListener: true, force: true },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'unseen' },
  ],
  [
    'a run in another PID namespace whose server this caller cannot see (a container from another): refused and kept',
    { allocation: byRun, hiddenListener: true, hiddenListenerUid: 1000, ownerElsewhere: true },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'unseen', message: expect.stringContaining('allocation was kept') },
  ],
  [
    "another user's process on the port of one's own allocation: refused and kept, and says whose",
    { allocation: detected, owner: { ...ownerShell, startTime: '10' }, hiddenListener: true, hiddenListenerUid: 1001 },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'unseen', message: expect.stringContaining("another user's: uid 1001") },
  ],
  [
    'a live owner whose server this caller cannot see: refused, not "nothing listens"',
    { allocation: named, owner: { ...ownerShell, startTime: '10' }, hiddenListener: true, force: true },
    { kind: 'refused', code: 'STOP_REFUSED', reason: 'unseen' },
  ],
  [
    'a run in another PID namespace, its server seen from the host: --force, and the message says where the owner is',
    { allocation: byRun, listeners: [server], ownerElsewhere: true },
    { kind: 'refused', code: 'FORCE_REQUIRED', message: expect.stringContaining('whose owner PID 100 is in another PID namespace') },
  ],
  ['a persistent allocation someone serves: not attributable', { allocation: persistent, listeners: [server] }, { kind: 'refused', code: 'FORCE_REQUIRED' }],
  ['... with --force: that listener', { allocation: persistent, listeners: [server], force: true }, { kind: 'end-tree', reason: 'forced', root: { pid: 300 } }],
  [
    'a listener outside the owner tree',
    { allocation: detected, owner: { ...ownerShell, startTime: '10' }, listeners: [proc(400, [init])] },
    { kind: 'refused', code: 'FORCE_REQUIRED' },
  ],
  [
    'an ancestor with a reused PID is not the owner',
    { allocation: detected, owner: { ...ownerShell, startTime: '10' }, listeners: [proc(300, [{ pid: 100, startTime: '99' }, init])] },
    { kind: 'refused', code: 'FORCE_REQUIRED' },
  ],
  ['a process outside Styxy', { listeners: [server] }, { kind: 'refused', code: 'FORCE_REQUIRED' }],
  [
    "another user's process",
    { listeners: [{ ...server, uid: 1001 }] },
    { kind: 'refused', code: 'FORCE_REQUIRED', message: expect.stringContaining("another user's") },
  ],
  ['... with --force', { listeners: [server], force: true }, { kind: 'end-tree', reason: 'forced', root: { pid: 300 } }],
  ["another user's listener this caller cannot see", { hiddenListener: true, hiddenListenerUid: 0 }, { kind: 'refused', code: 'FORCE_REQUIRED' }],
  ['a listener this caller cannot see, even with --force', { hiddenListener: true, force: true }, { kind: 'refused', code: 'NOT_FOUND' }],
  ['nothing at all', {}, { kind: 'refused', code: 'NOT_FOUND' }],
])('%s', (_what, over, expected) => {
  expect(planStop({ ...base, ...over })).toMatchObject(expected);
});
