import { findTreeMembers, parsePsTable, processKey, type ProcessEntry } from '../../../lib/os/process-tree';

const p = (pid: number, ppid: number, startTime = `t${pid}`): ProcessEntry => ({ pid, ppid, startTime });
const pids = (entries: ProcessEntry[]) => entries.map((e) => e.pid).sort((a, b) => a - b);

describe('findTreeMembers', () => {
  // 1 init; 50 the styxy run (root); 60 npm under it; 61 sh under npm; 62 the server; 70 an unrelated shell.
  const table = [p(1, 0), p(50, 1), p(60, 50), p(61, 60), p(62, 61), p(70, 1), p(71, 70)];

  test('children, grandchildren and deeper, never the root or unrelated processes', () => {
    expect(pids(findTreeMembers(table, 50, new Set()))).toEqual([60, 61, 62]);
  });

  test('a known member reparented to init stays, with its own children', () => {
    const reparented = [p(1, 0), p(50, 1), p(62, 1), p(63, 62), p(70, 1)];
    expect(pids(findTreeMembers(reparented, 50, new Set()))).toEqual([]);
    expect(pids(findTreeMembers(reparented, 50, new Set([processKey(p(62, 61))])))).toEqual([62, 63]);
  });

  test('a reused PID (another start time) is not taken for the member it replaced', () => {
    const reused = [p(1, 0), p(50, 1), p(62, 1, 'later')];
    expect(pids(findTreeMembers(reused, 50, new Set([processKey(p(62, 61))])))).toEqual([]);
  });

  test('a cycle in a torn read of the table does not loop', () => {
    expect(pids(findTreeMembers([p(50, 1), p(60, 61), p(61, 60), p(62, 50)], 50, new Set([processKey(p(60, 61))])))).toEqual([60, 61, 62]);
  });
});

test('parsePsTable reads macOS-style ps output, leaving out zombies and ps itself', () => {
  const text = [
    '    1     0 Ss   Tue Dec  1 09:00:01 2026',
    '  501     1 S    Tue Dec  1 19:59:58 2026',
    '  502   501 Z    Tue Dec  1 20:00:00 2026',
    '  503   501 R+   Tue Dec  1 20:00:01 2026',
    '',
  ].join('\n');
  expect(parsePsTable(text, 503)).toEqual([
    { pid: 1, ppid: 0, startTime: 'Tue Dec  1 09:00:01 2026' },
    { pid: 501, ppid: 1, startTime: 'Tue Dec  1 19:59:58 2026' },
  ]);
});
