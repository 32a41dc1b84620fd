import {
  buildComposeOverride,
  findEnabledProfiles,
  interpolate,
  listComposeRequests,
  parseDockerPs,
  parseDotEnv,
  parseShortPort,
  planComposeOrigins,
  planComposePorts,
  planComposeProjectName,
} from '../../../lib/core/compose';
import { allocation, state } from '../../helpers/builders';

const env = (vars: Record<string, string>) => (name: string) => vars[name];

describe('interpolate', () => {
  const vars = env({ SET: 'v', EMPTY: '', PORT: '3005' });
  test.each([
    ['plain', 'plain'],
    ['$$SET', '$SET'],
    ['$SET-x', 'v-x'],
    ['${SET}', 'v'],
    ['${UNSET}', ''],
    ['${UNSET:-3000}:80', '3000:80'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET:-${PORT}}:80', '3005:80'],
    ['${PORT:-3000}:3000', '3005:3000'],
    ['a$', 'a$'],
  ])('%j → %j', (text, expected) => expect(interpolate(text, vars)).toEqual({ value: expected }));
  test.each(['${UNSET:?needs a port}', '${EMPTY:?x}', '${UNSET?x}', '${', '${1BAD}'])('%j is an error', (text) => {
    expect(interpolate(text, vars)).toHaveProperty('error');
  });
  test('a required variable with a value passes', () => expect(interpolate('${EMPTY?x}', vars)).toEqual({ value: '' }));
});

describe('parseShortPort', () => {
  test.each([
    ['3000:3000', [{ target: 3000, published: 3000, protocol: 'tcp' }]],
    ['127.0.0.1:5432:5432', [{ target: 5432, published: 5432, protocol: 'tcp', hostIp: '127.0.0.1' }]],
    ['[::1]:8080:80/tcp', [{ target: 80, published: 8080, protocol: 'tcp', hostIp: '::1' }]],
    ['53:53/udp', [{ target: 53, published: 53, protocol: 'udp' }]],
    [
      '9090-9091:8080-8081',
      [
        { target: 8080, published: 9090, protocol: 'tcp' },
        { target: 8081, published: 9091, protocol: 'tcp' },
      ],
    ],
    ['8000-8010:80', [{ target: 80, published: 8000, protocol: 'tcp' }]],
  ])('%j is fixed', (entry, mappings) => expect(parseShortPort(entry)).toEqual({ kind: 'fixed', mappings }));
  test.each(['8080', '3000-3005', '127.0.0.1::5000'])('%j publishes no fixed host port', (entry) => {
    expect(parseShortPort(entry)).toEqual({ kind: 'kept', value: entry });
  });
  test.each(['a:b', '1:2:3:4', '70000:80', '9090-9092:8080-8081', '3000:3000/TCP!', '5-3:80'])('%j is refused', (entry) => {
    expect(parseShortPort(entry)).toHaveProperty('error');
  });
});

describe('findEnabledProfiles', () => {
  test('from --profile and COMPOSE_PROFILES', () => {
    expect([...findEnabledProfiles(['--profile', 'debug', '--profile=ops', 'up'], 'a, b')].sort()).toEqual(['a', 'b', 'debug', 'ops']);
    expect([...findEnabledProfiles(['up', '-d'], undefined)]).toEqual([]);
  });
});

const FILE = {
  services: {
    web: { image: 'nginx', ports: ['${WEB_PORT:-3000}:80', '9229', 3001] },
    db: { image: 'postgres', ports: [{ target: 5432, published: '5432', host_ip: '127.0.0.1', name: 'pg' }] },
    metrics: { image: 'prom', ports: ['9090-9091:9090-9091'] },
    worker: { image: 'w' },
    debug: { image: 'busybox', profiles: ['debug'], ports: ['4000:4000'] },
    internal: { image: 'x', ports: [{ target: 7000 }] },
  },
};

describe('planComposePorts', () => {
  test('fixed host ports of the active services, in file order; profiles decide', () => {
    const plan = planComposePorts(FILE, env({ WEB_PORT: '3005' }), new Set());
    expect(plan.problems).toEqual([]);
    expect(plan.inactive).toEqual(['debug']);
    expect(listComposeRequests(plan).map((r) => [r.instanceId, r.published, r.target])).toEqual([
      ['web', 3005, 80],
      ['db', 5432, 5432],
      ['metrics-9090', 9090, 9090],
      ['metrics-9091', 9091, 9091],
    ]);
    expect(listComposeRequests(planComposePorts(FILE, env({}), new Set(['debug']))).map((r) => r.instanceId)).toContain('debug');
    expect(planComposePorts(FILE, env({}), new Set(['*'])).inactive).toEqual([]);
  });

  test('each problem names where it is', () => {
    const plan = planComposePorts(
      { services: { a: { ports: ['x:y', { target: 'no' }] }, b: { ports: '3000:3000' }, c: { ports: ['${P:?set P}:80'] } } },
      env({}),
      new Set(),
    );
    expect(plan.problems.map((p) => p.at)).toEqual(['services.a.ports[0]', 'services.a.ports[1]', 'services.b.ports', 'services.c.ports[0]']);
    expect(planComposePorts('text', env({}), new Set()).problems).toHaveLength(1);
  });
});

describe('buildComposeOverride', () => {
  test('every ports list replaced: fixed mappings on the given ports, the rest kept, long syntax kept long', () => {
    const plan = planComposePorts(FILE, env({}), new Set());
    const text = buildComposeOverride(
      plan,
      new Map([
        ['web', 11000],
        ['db', 5433],
        ['metrics-9090', 3100],
        ['metrics-9091', 3104],
      ]),
      'header',
    );
    expect(text).toBe(
      [
        '# header',
        'services:',
        '  "web":',
        '    ports: !override',
        '      - "11000:80/tcp"',
        '      - "9229"',
        '      - 3001',
        '  "db":',
        '    ports: !override',
        '      - {"target":5432,"published":"5433","host_ip":"127.0.0.1","name":"pg"}',
        '  "metrics":',
        '    ports: !override',
        '      - "3100:9090/tcp"',
        '      - "3104:9091/tcp"',
        '',
      ].join('\n'),
    );
    // It is YAML that means what it says.
    const YAML = require('yaml') as typeof import('yaml');
    const doc = YAML.parseDocument(text, { customTags: [{ tag: '!override', collection: 'seq', resolve: (v: unknown) => v } as never] });
    expect(doc.errors).toEqual([]);
    expect((doc.toJS() as any).services.db.ports[0].published).toBe('5433');
  });
});

describe('planComposeProjectName', () => {
  test.each([
    ['my-app', 'abcdef0123', 'my-app-abcdef01'],
    ['My App.v2', 'ff00ff00ff', 'my-app-v2-ff00ff00'],
    ['...', '1234567890', 'project-12345678'],
  ])('%j', (dir, hash, name) => expect(planComposeProjectName(dir, hash)).toBe(name));
});

describe('parseDotEnv', () => {
  test('comments, export, quotes', () => {
    const vars = parseDotEnv('# c\nA=1\nexport B = two # note\nC="x # y"\nD=\'q\'\nbad line\n');
    expect(Object.fromEntries(vars)).toEqual({ A: '1', B: 'two', C: 'x # y', D: 'q' });
  });
});

describe('parseDockerPs', () => {
  test('host ports of compose containers, ranges included; containers without compose labels left out', () => {
    const text = [
      'shop-web-1\tshop\tweb\t0.0.0.0:8080->80/tcp, :::8080->80/tcp',
      'shop-metrics-1\tshop\tmetrics\t127.0.0.1:9090-9091->9090-9091/tcp, 9229/tcp',
      'plain\t\t\t0.0.0.0:7000->7000/tcp',
      '',
    ].join('\n');
    const found = parseDockerPs(text);
    expect([...found.keys()].sort()).toEqual([8080, 9090, 9091]);
    expect(found.get(9091)).toEqual({ project: 'shop', service: 'metrics', container: 'shop-metrics-1', from: 'docker' });
  });
});

describe('planComposeOrigins', () => {
  const base = state(allocation({ lockId: 'web-1', port: 3000 }), allocation({ lockId: 'db-1', port: 5432 }));
  test('marks the allocations named, and says when nothing changes', () => {
    const marked = planComposeOrigins(base, new Map([['web-1', { project: 'shop-1', service: 'web' }]]));
    expect(marked?.allocations.map((a) => a.compose)).toEqual([{ project: 'shop-1', service: 'web' }, undefined]);
    expect(planComposeOrigins(marked!, new Map([['web-1', { project: 'shop-1', service: 'web' }]]))).toBeNull();
    expect(planComposeOrigins(base, new Map([['gone', { project: 'shop-1', service: 'web' }]]))).toBeNull();
  });
});
