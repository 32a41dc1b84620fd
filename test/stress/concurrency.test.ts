import { freePortBlock, useSandbox } from '../helpers/cli';

const box = useSandbox();

test('100 simultaneous allocations across types: all succeed, no port twice, one allocation each', async () => {
  const base = await freePortBlock(150);
  box.writeConfig({ service_types: { web: { port_range: [base, base + 74] }, worker: { port_range: [base + 75, base + 149] } } });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => box.start(['allocate', '-s', i % 2 ? 'web' : 'worker', '--persistent', '--json'])));
  expect(results.filter((r) => r.code !== 0).map((r) => r.stdout || r.stderr)).toEqual([]);
  const ports = results.map((r) => r.json.port);
  expect(new Set(ports).size).toBe(100);
  for (const r of results) {
    const [low, high] = r.json.serviceType === 'web' ? [base, base + 74] : [base + 75, base + 149];
    expect(r.json.port).toBeGreaterThanOrEqual(low);
    expect(r.json.port).toBeLessThanOrEqual(high);
  }
  const state = box.readState();
  expect(state.allocations).toHaveLength(100);
  expect(box.run(['doctor', '--json']).code).toBe(0);
}, 120_000);

test('100 simultaneous allocations of one single-instance type: one allocation, one port, every caller told where it is', async () => {
  const base = await freePortBlock(10);
  box.writeConfig({ service_types: { llm: { port_range: [base, base + 9], instance_behavior: 'single' } } });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => box.start(['allocate', '-s', 'llm', '-n', `agent${i}`, '--json'])));
  expect(results.filter((r) => r.code !== 0).map((r) => r.stdout || r.stderr)).toEqual([]);
  expect(new Set(results.map((r) => r.json.port)).size).toBe(1);
  const created = results.filter((r) => r.json.existing === false);
  expect(created).toHaveLength(1);
  const first = created[0]!.json;
  for (const r of results.filter((x) => x.json.existing)) {
    expect(r.json).toMatchObject({ lockId: first.lockId, existingInstanceId: first.instanceId, singleInstance: true });
  }
  expect(box.readState().allocations).toHaveLength(1);
  expect(box.run(['doctor', '--json']).code).toBe(0);
}, 120_000);
