import * as fs from 'fs';
import * as path from 'path';
import { useSandbox } from '../helpers/cli';

const box = useSandbox();

/**
 * An auto-allocating call passes every named point: it takes the lock, reads, backs up and
 * rewrites config.json, rewrites state.json, appends to the audit log and unlocks. Killed at
 * any of them, the files must each be the old or the new version, and the next call must
 * succeed and sweep what was left.
 */
const POINTS = [
  'after-lock',
  'after-read',
  'during-backup',
  'after-temp-write:config.json',
  'before-rename:config.json',
  'after-rename:config.json',
  'after-temp-write:state.json',
  'before-rename:state.json',
  'after-rename:state.json',
  'during-audit',
  'before-unlock',
];

test.each(POINTS)('SIGKILL at %s: config and state are each old or new, and the next call succeeds and sweeps', (point) => {
  box.writeConfig({ service_types: { mine: { port_range: [7100, 7109] } } });
  expect(box.run(['allocate', '-s', 'mine', '--persistent', '-q']).code).toBe(0);
  const oldConfig = fs.readFileSync(path.join(box.home, 'config.json'), 'utf8');
  const oldState = box.readState();

  const killed = box.run(['allocate', '-s', 'newtool', '--persistent', '--json'], { env: { STYXY_TEST_KILL_AT: point } });
  expect(killed.signal).toBe('SIGKILL');

  const configText = fs.readFileSync(path.join(box.home, 'config.json'), 'utf8');
  const config = JSON.parse(configText);
  if (configText !== oldConfig) {
    expect(Object.keys(config.service_types).sort()).toEqual(['mine', 'newtool']);
    expect(config.service_types.mine).toEqual(JSON.parse(oldConfig).service_types.mine);
  }
  const state = box.readState();
  if (JSON.stringify(state) !== JSON.stringify(oldState)) {
    expect(state.allocations.slice(0, -1)).toEqual(oldState.allocations);
    expect(state.allocations.at(-1).serviceType).toBe('newtool');
    // The state names a type only once its config was written.
    expect(config.service_types.newtool).toBeDefined();
  }
  expect(box.run(['config', 'validate']).code).toBe(0);

  const next = box.run(['allocate', '-s', 'dev', '--persistent', '--json']);
  expect(next.code).toBe(0);
  const left = fs.readdirSync(box.home).filter((n) => n.includes('.tmp-') || n.startsWith('state.json.lock'));
  expect(left).toEqual([]);
  const doctor = box.run(['doctor', '--json']);
  expect(doctor.json.checks.filter((c: { status: string }) => c.status === 'warn' || c.status === 'fail')).toEqual([]);
  // And the interrupted work can simply be asked for again.
  expect(box.run(['allocate', '-s', 'newtool', '--persistent', '--json']).code).toBe(0);
});

/**
 * `config undo-auto-allocation --force` removes a type from config.json and its allocations from
 * state.json. Killed at any point, the home is the old or the new one, never a type gone from the
 * config with its allocations still in the state; and asking again finishes the undo, or says
 * truly that there is nothing left to undo.
 */
test.each(POINTS)('SIGKILL at %s of undo-auto-allocation --force: the type and its allocations go together, and undo again finishes', (point) => {
  box.writeConfig({ service_types: { mine: { port_range: [7100, 7109] } } });
  expect(box.run(['allocate', '-s', 'mine', '--persistent', '-q']).code).toBe(0);
  const made = box.run(['allocate', '-s', 'newtool', '--persistent', '--json']);
  expect(made.json.success).toBe(true);
  const mine = box.readState().allocations.find((a: { serviceType: string }) => a.serviceType === 'mine');

  const killed = box.run(['config', 'undo-auto-allocation', 'newtool', '--force', '--json'], { env: { STYXY_TEST_KILL_AT: point } });
  expect(killed.signal).toBe('SIGKILL');

  const typeKept = JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).service_types.newtool !== undefined;
  const allocationKept = box.readState().allocations.some((a: { serviceType: string }) => a.serviceType === 'newtool');
  // Never the type gone and its allocation kept.
  expect(typeKept || !allocationKept).toBe(true);
  expect(box.readState().allocations).toContainEqual(mine);
  expect(box.run(['config', 'validate']).code).toBe(0);

  const again = box.run(['config', 'undo-auto-allocation', 'newtool', '--force', '--json']);
  if (typeKept) {
    expect([again.code, again.json.success, again.json.serviceType]).toEqual([0, true, 'newtool']);
    expect(again.json.released.map((a: { lockId: string }) => a.lockId)).toEqual(allocationKept ? [made.json.lockId] : []);
  } else {
    expect(again.json.error.code).toBe('NOT_FOUND');
  }
  const config = JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8'));
  expect(config.service_types.newtool).toBeUndefined();
  expect(box.readState().allocations).toEqual([mine]);
  const left = fs.readdirSync(box.home).filter((n) => n.includes('.tmp-') || n.startsWith('state.json.lock'));
  expect(left).toEqual([]);
  const doctor = box.run(['doctor', '--json']);
  expect(doctor.json.checks.filter((c: { status: string }) => c.status === 'warn' || c.status === 'fail')).toEqual([]);
});
