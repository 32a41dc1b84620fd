import * as fs from 'fs';
import * as path from 'path';
import { sandbox, type Sandbox } from '../helpers/cli';

// The audit log is appended to after the change is made: a failed append must not cost the change
// or leave a line that breaks reading the log.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

describe('a failed audit append leaves whole lines', () => {
  test('the disk fills mid-append: the log is as it was, the warning says the change was made and what was not logged, the next event is read', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    const audit = path.join(box.home, 'audit.log');
    const before = fs.readFileSync(audit, 'utf8');
    const r = box.run(['allocate', '-s', 'api', '--persistent', '--json'], { env: { STYXY_TEST_FULL_AT: 'during-audit' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /the change was made, but writing the audit log failed: could not append to .*audit\.log \(the disk is full\); it was left as it was, without 1 event \(allocate\)/,
    );
    expect(r.stderr).not.toMatch(/nothing was changed/);
    expect(box.readState().allocations).toHaveLength(2);
    expect(fs.readFileSync(audit, 'utf8')).toBe(before);
    const next = box.run(['allocate', '-s', 'ui', '--persistent', '--json']).json;
    const events = box.run(['audit', '--json']).json.events;
    expect(events.map((e: { action: string; lockId: string }) => e.lockId)).toContain(next.lockId);
    expect(fs.readFileSync(audit, 'utf8').endsWith('\n')).toBe(true);
  });

  test('a log left mid-line by a killed writer: the next event starts a line of its own and is read', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    const audit = path.join(box.home, 'audit.log');
    fs.appendFileSync(audit, '{"action":"allocate","serviceType":"to');
    const next = box.run(['allocate', '-s', 'api', '--persistent', '--json']).json;
    const events = box.run(['audit', '--json']).json.events;
    expect(events.map((e: { lockId: string }) => e.lockId)).toContain(next.lockId);
  });
});
