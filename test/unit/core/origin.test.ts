import { planAllocation, type AllocationRequest } from '../../../lib/core/allocation';
import { derivePort, findRemoteUrl, fnv1a32, identityWithName, normalizeRemoteUrl, type ProjectIdentity } from '../../../lib/core/origin';
import type { FreedPort } from '../../../lib/core/types';
import { config, state, T0 } from '../../helpers/builders';

test.each([
  ['', 0x811c9dc5],
  ['a', 0xe40c292c],
  ['foobar', 0xbf9cf968],
])('FNV-1a of %j is the published value', (text, hash) => expect(fnv1a32(text)).toBe(hash));

test.each([
  ['git@github.com:Team/Shop.git', 'github.com/team/shop'],
  ['https://github.com/team/shop', 'github.com/team/shop'],
  ['https://user@github.com/team/shop.git/', 'github.com/team/shop'],
  ['ssh://git@github.com:22/team/shop.git', 'github.com/team/shop'],
  ['git://example.org/team/shop', 'example.org/team/shop'],
  ['/srv/git/shop.git', '/srv/git/shop'],
  ['../shop', '../shop'],
])('the remote %s is %s', (url, normalized) => expect(normalizeRemoteUrl(url)).toBe(normalized));

test.each<[string, string, string | null]>([
  [
    'origin',
    '[core]\n\tbare = false\n[remote "origin"]\n\turl = https://github.com/team/shop.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',
    'https://github.com/team/shop.git',
  ],
  ['origin over the first remote', '[remote "upstream"]\n\turl = git@a:x/y\n[remote "origin"]\n\turl = git@b:x/y\n', 'git@b:x/y'],
  ['the first remote without an origin', '[remote "upstream"]\n\turl = git@a:x/y\n[remote "fork"]\n\turl = git@c:x/y\n', 'git@a:x/y'],
  ['no remote', '[core]\n\turl = nothing\n[branch "main"]\n\tremote = origin\n', null],
  ['a quoted value and a comment', '[remote "origin"]\n  url = "git@b:x/y" ; mine\n', 'git@b:x/y'],
])('findRemoteUrl: %s', (_name, text, url) => expect(findRemoteUrl(text)).toBe(url));

const shop: ProjectIdentity = { repository: 'git:github.com/team/shop', worktree: '' };

test('a derived port is a function of repository, worktree, type and name, within the range', () => {
  const a = derivePort(shop, 'dev', 'web', [3000, 3099]);
  expect(a).toBeGreaterThanOrEqual(3000);
  expect(a).toBeLessThanOrEqual(3099);
  expect(derivePort({ ...shop }, 'dev', 'web', [3000, 3099])).toBe(a);
  const others = [
    derivePort({ ...shop, worktree: 'feature' }, 'dev', 'web', [3000, 3099]),
    derivePort(shop, 'dev', 'admin', [3000, 3099]),
    derivePort({ ...shop, repository: 'git:github.com/team/blog' }, 'dev', 'web', [3000, 3099]),
  ];
  // Pinned: a derived port is a promise, and must not change from one version to the next.
  expect([a, ...others]).toEqual([3009, 3007, 3000, 3009]);
});

describe('planAllocation with a derived port', () => {
  const owner = { kind: 'process' as const, pid: 42, startTime: '7' };
  const cfg = config({ dev: { port_range: [3000, 3009], preferred_ports: [3000] } });
  const derived = derivePort(shop, 'dev', 'web', [3000, 3009]);
  const req = (over: Partial<AllocationRequest> = {}): AllocationRequest => ({
    serviceType: 'dev',
    instanceId: 'web',
    project: '/p',
    owner,
    identity: shop,
    ...over,
  });
  const ports = (request: AllocationRequest, recentlyFreed?: FreedPort[]) => {
    const plan = planAllocation(cfg, { ...state(), ...(recentlyFreed && { recentlyFreed }) }, request, { now: T0 });
    return plan.kind === 'candidates' ? plan.ports : [];
  };
  const onward = (from: number) => [...Array.from({ length: 3010 - from }, (_, i) => from + i), ...Array.from({ length: from - 3000 }, (_, i) => 3000 + i)];

  test('the search starts at the derived port, passes built-in preferred ports over, and goes round the range', () => {
    expect(derived).not.toBe(3000);
    expect(ports(req())).toEqual(onward(derived));
  });
  test('preferred ports a config set, and a requested port, come first', () => {
    expect(ports(req({ preferredFirst: true })).slice(0, 2)).toEqual([3000, derived]);
    expect(ports(req({ port: 3007 }))[0]).toBe(3007);
  });
  test('the learned home comes before the derived port', () => {
    const home = derived === 3009 ? 3008 : 3009;
    const freed: FreedPort = { port: home, serviceType: 'dev', instanceId: 'web', project: '/p', sticky: true, freedAt: new Date(T0 - 60_000).toISOString() };
    expect(ports(req(), [freed]).slice(0, 2)).toEqual([home, derived]);
  });
  test('without an instance id, or an identity, nothing is derived', () => {
    const { instanceId: _i, ...plain } = req();
    expect(ports(plain)[0]).toBe(3000);
    const { identity: _n, ...noIdentity } = req();
    expect(ports(noIdentity)[0]).toBe(3000);
  });
});

describe('identityWithName', () => {
  test("a project's name stands for the repository; the worktree stays", () => {
    const git: ProjectIdentity = { repository: 'git:example.com/team/shop', worktree: 'feature' };
    expect(identityWithName(git, 'shop')).toEqual({ repository: 'name:shop', worktree: 'feature' });
    expect(identityWithName(undefined, 'shop')).toEqual({ repository: 'name:shop', worktree: '' });
    expect(identityWithName(git, undefined)).toBe(git);
    expect(identityWithName(undefined, undefined)).toBeUndefined();
  });
});
