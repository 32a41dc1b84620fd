import * as fs from 'fs';
import * as path from 'path';
import { builtInConfig } from '../../lib/core/defaults';
import { useSandbox } from '../helpers/cli';

const box = useSandbox();

const GAP = 10;

/** Every range in the config, built-in and new, sorted. */
function allRanges(config: { service_types: Record<string, { port_range: [number, number] }> }): { name: string; lo: number; hi: number }[] {
  const types = { ...builtInConfig().service_types, ...config.service_types };
  return Object.entries(types)
    .map(([name, t]) => ({ name, lo: t.port_range[0], hi: t.port_range[1] }))
    .sort((a, b) => a.lo - b.lo);
}

describe.each([10, 20])('%i concurrent allocations of different unknown types', (count) => {
  test('all succeed with non-overlapping ranges that keep the gap; all are in the config, which validates', async () => {
    const names = Array.from({ length: count }, (_, i) => `tool${i}`);
    const results = await Promise.all(names.map((name) => box.start(['allocate', '-s', name, '--persistent', '--json'])));
    expect(results.filter((r) => r.code !== 0).map((r) => r.stdout || r.stderr)).toEqual([]);
    expect(results.every((r) => r.json.autoAllocated === true)).toBe(true);
    const config = JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8'));
    expect(Object.keys(config.service_types).sort()).toEqual([...names].sort());
    for (const r of results) {
      expect(config.service_types[r.json.serviceType].port_range).toEqual(r.json.newRange);
      expect(r.json.port).toBeGreaterThanOrEqual(r.json.newRange[0]);
      expect(r.json.port).toBeLessThanOrEqual(r.json.newRange[1]);
    }
    const ranges = allRanges(config);
    for (let i = 1; i < ranges.length; i++) {
      const [prev, next] = [ranges[i - 1], ranges[i]] as [(typeof ranges)[number], (typeof ranges)[number]];
      // built-in ranges may sit closer to each other; a new range keeps the gap to every neighbour
      if (config.service_types[prev.name] || config.service_types[next.name]) expect(next.lo - prev.hi - 1).toBeGreaterThanOrEqual(GAP);
      else expect(next.lo).toBeGreaterThan(prev.hi);
    }
    expect(box.run(['config', 'validate']).code).toBe(0);
    expect(new Set(results.map((r) => r.json.port)).size).toBe(count);
    const audit = fs
      .readFileSync(path.join(box.home, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(audit.filter((e) => e.action === 'auto-allocate')).toHaveLength(count);
  }, 120_000);
});

test('5 concurrent allocations of one unknown type: one range, five ports from it', async () => {
  const results = await Promise.all(Array.from({ length: 5 }, (_, i) => box.start(['allocate', '-s', 'grafana', '-n', `i${i}`, '--persistent', '--json'])));
  expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
  expect(results.filter((r) => r.json.autoAllocated)).toHaveLength(1);
  const range = JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).service_types.grafana.port_range;
  const ports = results.map((r) => r.json.port);
  expect(new Set(ports).size).toBe(5);
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(range[0]);
    expect(port).toBeLessThanOrEqual(range[1]);
  }
  const audit = fs
    .readFileSync(path.join(box.home, 'audit.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  expect(audit.filter((e) => e.action === 'auto-allocate')).toHaveLength(1);
}, 60_000);
