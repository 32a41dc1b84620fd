import * as fs from 'fs';
import * as path from 'path';
import { freePortBlock, useSandbox } from '../helpers/cli';

// Blocks as a person and another Styxy see them. An older Styxy sharing the home sees a block as its first port alone and would hand out the
// others; state version 3, written only while a block is held, makes it refuse (STATE_TOO_NEW).
const box = useSandbox();
let base: number;
beforeEach(async () => {
  base = await freePortBlock(10);
  box.writeConfig({ service_types: { grid: { port_range: [base, base + 9] } } });
});

const version = () => JSON.parse(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).version;

test('state version 3 while a block is held, 1 again once none is', () => {
  box.run(['allocate', '-s', 'grid', '-n', 'one', '--persistent', '--json']);
  expect(version()).toBe(1);
  const block = box.run(['allocate', '-s', 'grid', '-n', 'cluster', '--block', '3', '--persistent', '--json']).json;
  expect(block.success).toBe(true);
  expect(version()).toBe(3);
  // This Styxy reads and changes what it wrote, keeping the version while the block is there.
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(2);
  const other = box.run(['allocate', '-s', 'grid', '-n', 'two', '--persistent', '--json']).json;
  expect(other.port).toBe(base + 4);
  expect(version()).toBe(3);
  expect(box.run(['release', block.lockId, '--json']).json.success).toBe(true);
  expect(version()).toBe(1);
});

test('a state of a newer version than 3 is still refused, changing nothing', () => {
  box.run(['allocate', '-s', 'grid', '-n', 'cluster', '--block', '2', '--persistent', '--json']);
  const file = path.join(box.home, 'state.json');
  const text = fs.readFileSync(file, 'utf8').replace('"version": 3', '"version": 4');
  fs.writeFileSync(file, text);
  const r = box.run(['allocate', '-s', 'grid', '-n', 'x', '--json']);
  expect(r.json.error.code).toBe('STATE_TOO_NEW');
  expect(fs.readFileSync(file, 'utf8')).toBe(text);
});

test('list and release show a block as its ports, 8082-8084', () => {
  const block = box.run(['allocate', '-s', 'grid', '-n', 'cluster', '--block', '3', '--persistent', '--json']).json;
  box.run(['allocate', '-s', 'grid', '-n', 'one', '--persistent']);
  const rows = box.run(['list']).stdout.split('\n');
  expect(rows.find((r) => r.includes('cluster'))).toMatch(new RegExp(`^${base}-${base + 2}\\s+grid\\s`));
  expect(rows.find((r) => r.includes(' one '))).toMatch(new RegExp(`^${base + 3}\\s+grid\\s`));
  const released = box.run(['release', block.lockId]);
  expect(released.stdout).toContain(`Released ports ${base}-${base + 2} (grid instance 'cluster'`);
});
