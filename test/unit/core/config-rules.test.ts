import { findConfigProblems, mergeConfigLayers, describeSchemaError, describeSchemaErrors } from '../../../lib/core/config-rules';
import { builtInConfig } from '../../../lib/core/defaults';
import type { ConfigLayer } from '../../../lib/core/types';

const merge = (...layers: ConfigLayer[]) =>
  mergeConfigLayers(
    builtInConfig(),
    'defaults',
    layers.map((layer, i) => ({ file: `layer${i}.json`, layer })),
  );

test('the built-in defaults have the 17 types of the contract and no problem', () => {
  const merged = merge();
  expect(Object.keys(merged.config.service_types).sort()).toEqual(
    [
      'ai',
      'api',
      'auth',
      'build',
      'coordination',
      'database',
      'dev',
      'docs',
      'functions',
      'hub',
      'infrastructure',
      'messaging',
      'monitoring',
      'proxy',
      'storybook',
      'test',
      'ui',
    ].sort(),
  );
  expect(merged.config.service_types.ai?.instance_behavior).toBe('single');
  expect(merged.config.service_types.dev?.port_range).toEqual([3000, 3099]);
  for (const t of Object.values(merged.config.service_types)) {
    expect(t.description).toBeTruthy();
    expect(t.examples?.length).toBeGreaterThan(0);
    expect(t.preferred_ports?.length).toBeGreaterThan(0);
  }
  expect(findConfigProblems(merged)).toEqual([]);
});

test('a layer may change one field of a built-in type', () => {
  const merged = merge({ service_types: { ai: { instance_behavior: 'multi' } } });
  expect(merged.config.service_types.ai).toMatchObject({ instance_behavior: 'multi', port_range: [11400, 11499] });
  expect(merged.rangeSources.ai).toBe('defaults');
});

test('later layers win, and the range source follows the layer that set it', () => {
  const merged = merge({ service_types: { dev: { port_range: [3000, 3049] } } }, { service_types: { dev: { port_range: [3000, 3019] } } });
  expect(merged.config.service_types.dev?.port_range).toEqual([3000, 3019]);
  expect(merged.rangeSources.dev).toBe('layer1.json');
});

test('moving a built-in range drops the inherited preferred ports it no longer holds, keeps those it does', () => {
  const moved = merge({ service_types: { api: { port_range: [30000, 30099] } } });
  expect(moved.config.service_types.api?.preferred_ports).toBeUndefined();
  expect(findConfigProblems(moved)).toEqual([]);
  const narrowed = merge({ service_types: { dev: { port_range: [3000, 3009] } } });
  expect(narrowed.config.service_types.dev?.preferred_ports?.every((p) => p >= 3000 && p <= 3009)).toBe(true);
  expect(narrowed.config.service_types.dev?.preferred_ports?.length).toBeGreaterThan(0);
  // Preferred ports named with the new range are the user's: checked, not dropped.
  const named = merge({ service_types: { api: { port_range: [30000, 30099], preferred_ports: [8000] } } });
  expect(findConfigProblems(named).map((p) => p.path)).toEqual(['/service_types/api/preferred_ports/0']);
});

test('a new type without a range is a problem naming the file and path', () => {
  expect(merge({ service_types: { grafana: { description: 'x' } } }).problems).toEqual([
    { file: 'layer0.json', path: '/service_types/grafana', message: expect.stringContaining('needs a port_range') },
  ]);
});

test('the latest layer’s rules come first', () => {
  const merged = merge({ auto_allocation_rules: { 'a-*': { chunk_size: 5 }, 'b-*': {} } }, { auto_allocation_rules: { 'c-*': {}, 'a-*': { chunk_size: 7 } } });
  expect(Object.keys(merged.config.auto_allocation_rules)).toEqual(['c-*', 'a-*', 'b-*']);
  expect(merged.config.auto_allocation_rules['a-*']).toEqual({ chunk_size: 7 });
});

describe('findConfigProblems', () => {
  test.each<[string, ConfigLayer, string, string]>([
    ['overlapping ranges', { service_types: { grafana: { port_range: [3050, 3150] } } }, '/service_types/', 'overlaps'],
    ['a reversed range', { service_types: { x: { port_range: [20010, 20000] } } }, '/service_types/x/port_range', 'ends before it starts'],
    [
      'a preferred port outside its range',
      { service_types: { x: { port_range: [20000, 20010], preferred_ports: [20011] } } },
      '/service_types/x/preferred_ports/0',
      'outside',
    ],
    ['min_port not below max_port', { auto_allocation: { min_port: 30000, max_port: 30000 } }, '/auto_allocation/min_port', 'below max_port'],
    ['auto bounds below 1024', { auto_allocation: { min_port: 80 } }, '/auto_allocation/min_port', 'below 1024'],
    ['an env name that is another type’s URL', { service_types: { api: { env: { url: 'DEV_URL' } } } }, '/service_types/api/env/url', "'dev'"],
    [
      'one env name claimed by two types',
      { service_types: { api: { env: { url: 'BACKEND_URL' } }, dev: { env: { port: 'BACKEND_URL' } } } },
      '/service_types/api/env/url',
      "'dev'",
    ],
    ['an env name a shell acts on', { service_types: { api: { env: { url: 'BASH_ENV' } } } }, '/service_types/api/env/url', '_URL'],
    ["a loader's env name with a good ending", { service_types: { api: { env: { port: 'LD_AUDIT_PORT' } } } }, '/service_types/api/env/port', 'LD_'],
    ['an env name of 65 characters', { service_types: { api: { env: { url: `${'A'.repeat(61)}_URL` } } } }, '/service_types/api/env/url', '64'],
    [
      'one env name for the port and the URL',
      { service_types: { api: { env: { port: 'API_ORIGIN', url: 'API_ORIGIN' } } } },
      '/service_types/api/env/url',
      'both',
    ],
  ])('%s', (_name, layer, path, message) => {
    const problems = findConfigProblems(merge(layer));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.path).toContain(path);
    expect(problems[0]?.message).toContain(message);
    expect(problems[0]?.file).toBe('layer0.json');
  });

  test('an overlap names both types', () => {
    const [problem] = findConfigProblems(merge({ service_types: { grafana: { port_range: [3050, 3150] } } }));
    expect(problem?.message).toMatch(/'(grafana|monitoring|dev)'.*'(grafana|monitoring|dev)'/);
  });

  test('touching ranges do not overlap', () => {
    expect(findConfigProblems(merge({ service_types: { x: { port_range: [20000, 20009] }, y: { port_range: [20010, 20019] } } }))).toEqual([]);
  });
});

test('describeSchemaError names an unknown key', () => {
  expect(
    describeSchemaError('f.json', { instancePath: '/service_types/dev', keyword: 'additionalProperties', params: { additionalProperty: 'rnage' } }),
  ).toEqual({
    file: 'f.json',
    path: '/service_types/dev/rnage',
    message: "unknown key 'rnage'",
  });
});

test('describeSchemaError names a key that propertyNames refused, and why', () => {
  const inner = { instancePath: '/service_types', keyword: 'not', params: {}, message: 'must NOT be valid', propertyName: 'constructor' };
  expect(describeSchemaError('f.json', inner)).toEqual({
    file: 'f.json',
    path: '/service_types/constructor',
    message: "'constructor' is not a valid name (every JavaScript object has it, so Styxy refuses it as a name)",
  });
  expect(describeSchemaError('f.json', { ...inner, keyword: 'pattern', propertyName: 'bad;name' }).message).toBe("'bad;name' is not a valid name");
});

test('describeSchemaErrors reports a refused key once, with the reason', () => {
  const errors = [
    { instancePath: '/service_types', keyword: 'not', params: {}, message: 'must NOT be valid', propertyName: 'constructor' },
    { instancePath: '/service_types', keyword: 'propertyNames', params: { propertyName: 'constructor' }, message: 'property name must be valid' },
    { instancePath: '/service_types', keyword: 'propertyNames', params: { propertyName: 'other' }, message: 'property name must be valid' },
  ];
  expect(describeSchemaErrors('f.json', errors).map((p) => `${p.path}: ${p.message}`)).toEqual([
    "/service_types/constructor: 'constructor' is not a valid name (every JavaScript object has it, so Styxy refuses it as a name)",
    "/service_types/other: 'other' is not a valid name",
  ]);
});

test('a type may name its own standard variables, and the env names are blamed on the file that set them', () => {
  expect(findConfigProblems(merge({ service_types: { api: { env: { url: 'API_URL', port: 'BACKEND_PORT' } } } }))).toEqual([]);
  const problems = findConfigProblems(merge({}, { service_types: { api: { env: { url: 'DEV_PORT' } } } }));
  expect(problems.map((p) => p.file)).toEqual(['layer1.json']);
});

test('urls.host_style: localhost by default, set by a later layer', () => {
  expect(merge().config.urls).toEqual({ host_style: 'localhost' });
  expect(merge({ urls: { host_style: 'subdomain' } }).config.urls).toEqual({ host_style: 'subdomain' });
});

describe('settings sections merge key by key, whatever their name', () => {
  test('agents: a later layer’s key wins, the others stay, and the base keeps its own', () => {
    const merged = merge({ agents: { hook: false } }, { agents: { keep_servers: true } }, { port_reuse: { cooldown_seconds: 0 } });
    expect(merged.config.agents).toEqual({ hook: false, keep_servers: true });
    expect(merged.config.port_reuse).toEqual({ cooldown_seconds: 0, home_port_days: 7, home_port_limit: 200 });
    expect(builtInConfig().agents).toEqual({ hook: true, keep_servers: false });
  });

  test('a section the defaults gain is merged with no change to the merge', () => {
    const base = { ...builtInConfig(), tunnels: { enabled: false, host: 'a' } } as ReturnType<typeof builtInConfig>;
    const merged = mergeConfigLayers(base, 'defaults', [{ file: 'user.json', layer: { tunnels: { enabled: true } } as ConfigLayer }]);
    expect((merged.config as unknown as Record<string, unknown>).tunnels).toEqual({ enabled: true, host: 'a' });
  });

  test('the merged config lists its sections in the defaults’ order', () => {
    expect(Object.keys(merge({ urls: { host_style: 'subdomain' } }).config)).toEqual(Object.keys(builtInConfig()));
  });

  test('auto_allocation keys are blamed on the layer that set them last', () => {
    const merged = merge({ auto_allocation: { min_port: 500 } }, { auto_allocation: { gap_size: 1 } });
    expect(merged.autoSource).toBe('layer1.json');
    expect(merged.autoKeySources).toMatchObject({ min_port: 'layer0.json', gap_size: 'layer1.json', max_port: 'defaults' });
    expect(findConfigProblems(merged)).toEqual([expect.objectContaining({ file: 'layer0.json', path: '/auto_allocation/min_port' })]);
  });
});
