import { classifyHolder, findContainerProxy, WHY_EXIT_STATUS, type HolderFacts, type HolderKind } from '../../../lib/core/holder';
import { T0, allocation } from '../../helpers/builders';

const reuse = { cooldown_seconds: 600, home_port_days: 30, home_port_limit: 200 };
const base: HolderFacts = { port: 3000, now: T0, allocation: null, listeners: [], bindRefused: false, callerUid: 1000, callerPidNs: '1', reuse };
const python = {
  pid: 42,
  uid: 1000,
  user: 'me',
  command: 'python3 -m http.server 3000',
  argv: ['python3', '-m', 'http.server', '3000'],
  cwd: '/w',
  pidNs: '1',
};
const web = allocation({ port: 3000, instanceId: 'web', lockId: 'dev-web-1', label: 'agent-2', session: 'claude-code:abc' });
const runOwned = allocation({
  port: 3000,
  instanceId: 'web',
  lockId: 'dev-web-1',
  owner: { kind: 'process', pid: 7, startTime: '1', via: 'run', command: 'node styxy run -s dev -- sh -c server' },
});

describe('classifyHolder: one kind per holder, each with its exit status', () => {
  test.each<[string, Partial<HolderFacts>, HolderKind, RegExp]>([
    ['nothing', {}, 'free', /^Port 3000 is free\.$/],
    [
      'an allocation whose server listens',
      { allocation: web, listeners: [{ address: '127.0.0.1', uid: 1000, process: python }] },
      'allocation',
      /dev\/web \(label 'agent-2', session claude-code:abc\).*served by PID 42.*listening at http:\/\/localhost:3000.*styxy stop 3000/,
    ],
    [
      'an owner that is the server is named once',
      {
        allocation: allocation({ port: 3000, owner: { kind: 'process', pid: 42, startTime: '1' } }),
        ownerProcess: python,
        listeners: [{ address: '::', process: python }],
      },
      'allocation',
      /in \/p; served by its owner PID 42 \(python3 -m http.server 3000\), since/,
    ],
    [
      "the owner's child serves: stop, plainly",
      {
        allocation: web,
        ownerProcess: { pid: 100, startTime: '5' },
        serverAncestors: [{ pid: 100, startTime: '5' }],
        listeners: [{ address: '::', process: python }],
      },
      'allocation',
      /Stop it: styxy stop 3000$/,
    ],
    [
      "a server that is not the owner's: stop needs --force, and says so",
      {
        allocation: web,
        ownerProcess: { pid: 100, startTime: '5' },
        serverAncestors: [{ pid: 1, startTime: '1' }],
        listeners: [{ address: '::', process: python }],
      },
      'allocation',
      /Stop it: styxy stop 3000 --force \(its server is not the owner's/,
    ],
    [
      'a persistent allocation someone serves: --force',
      { allocation: allocation({ port: 3000, owner: { kind: 'persistent' } }), listeners: [{ address: '::', process: python }] },
      'allocation',
      /styxy stop 3000 --force/,
    ],
    ['an allocation still waiting for its server', { allocation: web }, 'allocation', /reserved, nothing listens yet/],
    [
      'two programs on one port (127.0.0.1 and ::1): both are named',
      {
        listeners: [
          { address: '127.0.0.1', uid: 1000, process: python },
          { address: '::1', uid: 1000, process: { ...python, pid: 43, command: 'node vite' } },
        ],
      },
      'process',
      /or take another port\. Also listening on port 3000: PID 43 \(node vite\) on ::1\.$/,
    ],
    [
      "another member's allocation in a shared home: whose it is, and no stop advice (stop is NOT_PERMITTED)",
      { allocation: { ...runOwned, user: { uid: 1001, name: 'alice' } }, listeners: [{ address: '::', uid: 1001 }] },
      'allocation',
      /dev\/web in \/p of user alice;.*It is alice's: only that user \(or root\) may stop or release it/,
    ],
    [
      'a run recorded in another PID namespace, seen from the host: its PID there and here, and stop needs --force',
      {
        allocation: { ...runOwned, owner: { ...runOwned.owner, pidNs: '9' } } as typeof runOwned,
        ownerHostPid: 4242,
        listeners: [{ address: '::', uid: 1000, process: python }],
      },
      'allocation',
      /styxy run PID 7 in PID namespace 9 \(host PID 4242\).*Stop it: styxy stop 3000 --force \(its owner is in another PID namespace/,
    ],
    [
      'a server this caller cannot see (a container seen from another): stop it where it runs',
      { allocation: { ...runOwned, owner: { ...runOwned.owner, pidNs: '9' } } as typeof runOwned, listeners: [{ address: '::', uid: 1000 }] },
      'allocation',
      /styxy run PID 7 in PID namespace 9 \(node.*Its server cannot be seen from here.*stop it where it runs/,
    ],
    [
      "root asking about a member's run: its process is another user's, --force",
      {
        allocation: runOwned,
        callerUid: 0,
        ownerProcess: { pid: 7, uid: 1000, startTime: '1' },
        listeners: [{ address: '::', uid: 1000, process: python }],
      },
      'allocation',
      /Stop it: styxy stop 3000 --force \(its process is another user's\)/,
    ],
    [
      'a run: the server, then run itself',
      { allocation: runOwned, listeners: [{ address: '::', process: python }] },
      'allocation',
      /served by PID 42 \(python3.*styxy run PID 7/,
    ],
    [
      'a process of this user outside Styxy',
      { listeners: [{ address: '0.0.0.0', uid: 1000, process: python }] },
      'process',
      /outside Styxy by PID 42 \(python3 -m http.server 3000\) of me in \/w.*styxy stop 3000 --force/,
    ],
    [
      'another PID namespace (seen from the host)',
      { listeners: [{ address: '0.0.0.0', uid: 1000, process: { ...python, pidNs: '9' } }] },
      'process',
      /PID 42 in another PID namespace/,
    ],
    [
      'a docker-proxy',
      {
        listeners: [
          {
            address: '0.0.0.0',
            uid: 0,
            process: {
              pid: 5,
              uid: 0,
              argv: ['/usr/bin/docker-proxy', '-proto', 'tcp', '-host-port', '3000', '-container-ip', '172.17.0.2', '-container-port', '80'],
            },
          },
        ],
      },
      'container',
      /docker-proxy PID 5 for container 172\.17\.0\.2:80/,
    ],
    [
      'another user, process visible',
      { listeners: [{ address: '0.0.0.0', uid: 1001, process: { ...python, uid: 1001, user: 'bob' } }] },
      'other-user',
      /another user's process \(bob, uid 1001: PID 42/,
    ],
    ['another user, only the socket uid', { listeners: [{ address: '0.0.0.0', uid: 1001 }] }, 'other-user', /another user's process \(uid 1001\)/],
    ['a socket of this uid whose process cannot be seen', { listeners: [{ address: '0.0.0.0', uid: 1000 }] }, 'unknown', /cannot see \(socket of uid 1000\)/],
    ['the OS refuses a bind, nothing in /proc', { bindRefused: true }, 'unknown', /cannot see/],
  ])('%s', (_what, over, kind, summary) => {
    const holder = classifyHolder({ ...base, ...over });
    expect(holder.kind).toBe(kind);
    expect(holder.summary).toMatch(summary);
  });

  test('the statuses are distinct, and only free is 0', () => {
    const statuses = Object.values(WHY_EXIT_STATUS);
    expect(new Set(statuses).size).toBe(statuses.length);
    expect(statuses.filter((s) => s === 0)).toHaveLength(1);
    expect(WHY_EXIT_STATUS.free).toBe(0);
  });

  test('a run names the server as the server and run as the owner', () => {
    const holder = classifyHolder({ ...base, allocation: runOwned, listeners: [{ address: '::', process: python }] });
    expect(holder.server?.pid).toBe(42);
    expect(holder.listening).toBe(true);
  });
});

describe('classifyHolder: a free port remembers who had it', () => {
  const freed = { port: 3000, serviceType: 'dev', instanceId: 'web', project: '/p', sticky: true, freedAt: new Date(T0 - 60_000).toISOString() };
  test('cooling down, and a home port', () => {
    const holder = classifyHolder({ ...base, recentlyFreed: [freed] });
    expect(holder.kind).toBe('free');
    expect(holder.coolingDown).toMatchObject({ serviceType: 'dev', until: new Date(T0 + 540_000).toISOString() });
    expect(holder.homeOf).toMatchObject({ serviceType: 'dev', instanceId: 'web', project: '/p' });
    expect(holder.summary).toMatch(/cooling down until .*home port of dev\/web/);
  });
  test('after the cool-down, a sticky port is still a home; a plain one is just free', () => {
    const later = { ...base, now: T0 + 3_600_000 };
    expect(classifyHolder({ ...later, recentlyFreed: [freed] })).toMatchObject({ kind: 'free', homeOf: { instanceId: 'web' } });
    const plain = classifyHolder({ ...later, recentlyFreed: [{ ...freed, sticky: false }] });
    expect(plain.summary).toBe('Port 3000 is free.');
    expect(plain.coolingDown).toBeUndefined();
  });
});

test.each<[string[] | undefined, ReturnType<typeof findContainerProxy>]>([
  [['docker-proxy', '-container-ip', '10.0.0.2', '-container-port', '5432'], { proxy: 'docker-proxy', containerIp: '10.0.0.2', containerPort: 5432 }],
  [['/usr/libexec/podman/rootlessport'], { proxy: 'rootlessport' }],
  [['python3', 'docker-proxy'], null],
  [['/opt/my-docker-proxy-helper'], null],
  [undefined, null],
])('findContainerProxy(%j): by the program name only', (argv, expected) => {
  expect(findContainerProxy(argv)).toEqual(expected);
});

test("a PID namespace's init is never advised --force: stop refuses it", () => {
  for (const proc of [
    { ...python, namespaceInit: true as const },
    { ...python, pid: 1 },
  ]) {
    const h = classifyHolder({ ...base, listeners: [{ address: '127.0.0.1', uid: 1000, process: proc }] });
    expect(h.kind).toBe('process');
    expect(JSON.stringify([h.summary, h.suggestions])).not.toContain('--force');
    const held = classifyHolder({ ...base, allocation: web, listeners: [{ address: '127.0.0.1', uid: 1000, process: proc }] });
    expect(JSON.stringify([held.summary, held.suggestions])).not.toContain('styxy stop 3000');
  }
});
