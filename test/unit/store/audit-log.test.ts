import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AUDIT_ROTATE_BYTES, AUDIT_ROTATIONS_KEPT, appendAudit, readAudit } from '../../../lib/store/audit-log';
import { resolvePaths } from '../../../lib/store/paths';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-audit-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));
const paths = () => resolvePaths({ STYXY_HOME: home });

test('events are appended as JSON lines with user and pid, and read back in order', () => {
  appendAudit(paths(), [{ timestamp: 't1', action: 'allocate', serviceType: 'dev', port: 3000 }]);
  appendAudit(paths(), [{ timestamp: 't2', action: 'release', serviceType: 'dev' }]);
  const events = readAudit(paths());
  expect(events.map((e) => e.action)).toEqual(['allocate', 'release']);
  expect(events[0]).toMatchObject({ port: 3000, pid: process.pid, user: expect.any(String) });
  expect(fs.statSync(paths().audit).mode & 0o777).toBe(0o600);
});

test('a torn last line (a writer killed mid-append) is skipped by the reader', () => {
  appendAudit(paths(), [{ timestamp: 't1', action: 'allocate' }]);
  fs.appendFileSync(paths().audit, '{"timestamp":"t2","act');
  expect(readAudit(paths()).map((e) => e.action)).toEqual(['allocate']);
});

test('the log rotates at 10 MB and keeps 5 rotations, oldest dropped', () => {
  const line = `${JSON.stringify({ timestamp: 'old', action: 'filler' })}\n`;
  const big = line.repeat(Math.ceil(AUDIT_ROTATE_BYTES / line.length));
  expect(Buffer.byteLength(big)).toBeGreaterThanOrEqual(AUDIT_ROTATE_BYTES);
  for (let n = 1; n <= AUDIT_ROTATIONS_KEPT; n++) fs.writeFileSync(`${paths().audit}.${n}`, `{"timestamp":"r${n}","action":"rotation-${n}"}\n`);
  fs.writeFileSync(paths().audit, big);
  appendAudit(paths(), [{ timestamp: 'new', action: 'allocate' }]);
  expect(fs.readFileSync(paths().audit, 'utf8')).toContain('"action":"allocate"');
  expect(fs.statSync(paths().audit).size).toBeLessThan(1000);
  expect(fs.statSync(`${paths().audit}.1`).size).toBe(Buffer.byteLength(big));
  // .4 moved to .5, and the old .5 is gone.
  expect(fs.readFileSync(`${paths().audit}.5`, 'utf8')).toContain('rotation-4');
  expect(fs.existsSync(`${paths().audit}.6`)).toBe(false);
});
