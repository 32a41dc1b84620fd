import * as fs from 'fs';
import * as path from 'path';
import { useSandbox } from '../helpers/cli';
import { hasPty, runInPty } from '../helpers/pty';

// Confirmation of an auto-allocated range (auto_allocation.require_confirmation), asked by one
// loop (lib/app/confirmation.ts): the use case returns the question, the CLI asks a person on
// the terminal and calls again with the answer. Every command that allocates asks alike.

const box = useSandbox();
const ptyTest = hasPty() ? test : test.skip;

beforeEach(() => box.writeConfig({ auto_allocation: { require_confirmation: true } }));

const userConfig = () => JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8'));
const newTypes = () => Object.keys(userConfig().service_types ?? {});
const files = () => Object.fromEntries(fs.readdirSync(box.home).map((f) => [f, fs.readFileSync(path.join(box.home, f), 'utf8')]));

describe('allocate on a terminal', () => {
  ptyTest('asked once; no declines (exit 7, nothing written), yes allocates from the range asked about', () => {
    const before = files();
    const no = runInPty(box, ['allocate', '-s', 'grafana'], { prompt: '[y/N]', answer: 'n' });
    expect(no.answers).toBe(1);
    expect(no.code).toBe(7);
    expect(no.output).toMatch(/Auto-allocate ports \d+-\d+ for 'grafana'\? \[y\/N\]/);
    expect(no.output).toContain("Declined: no range was given to 'grafana' and nothing was written");
    expect(files()).toEqual(before);

    const yes = runInPty(box, ['allocate', '-s', 'grafana', '-q'], { prompt: '[y/N]', answer: 'y' });
    expect(yes.code).toBe(0);
    const [, low, high] = /Auto-allocate ports (\d+)-(\d+)/.exec(yes.output) as RegExpExecArray;
    expect(userConfig().service_types.grafana.port_range).toEqual([Number(low), Number(high)]);
    const port = Number(/^(\d+)$/m.exec(yes.output)?.[1]);
    expect(port).toBeGreaterThanOrEqual(Number(low));
    expect(port).toBeLessThanOrEqual(Number(high));
  });

  ptyTest('a batch asks once per new type, saying why before the second question; a no to either writes nothing', () => {
    const before = files();
    const half = runInPty(box, ['allocate', '-s', 'dev', '-s', 'first-new', '-s', 'second-new'], { prompt: '[y/N]', answers: ['y', 'n'] });
    expect(half.answers).toBe(2);
    expect(half.code).toBe(7);
    expect(half.output).toMatch(
      /for 'first-new'\? \[y\/N\][^]*styxy: Auto-allocation needs confirmation: ports \d+-\d+ \(10\) for new service type 'second-new'/,
    );
    expect(half.output).toContain("Declined: no range was given to 'second-new'");
    expect(files()).toEqual(before);

    const both = runInPty(box, ['allocate', '-s', 'dev', '-s', 'first-new', '-s', 'second-new', '-q'], { prompt: '[y/N]', answers: ['y', 'y'] });
    expect(both.answers).toBe(2);
    expect(both.code).toBe(0);
    expect(newTypes()).toEqual(expect.arrayContaining(['first-new', 'second-new']));
    expect(
      box
        .readState()
        .allocations.map((a: { serviceType: string }) => a.serviceType)
        .sort(),
    ).toEqual(['dev', 'first-new', 'second-new']);
  });

  ptyTest('--json and --env on a terminal are not asked: CONFIRMATION_REQUIRED (exit 7), one document', () => {
    const json = runInPty(box, ['allocate', '-s', 'grafana', '--json'], { prompt: '[y/N]', answer: 'y' });
    expect(json.answers).toBe(0);
    expect(json.code).toBe(7);
    expect(JSON.parse(json.output).error).toMatchObject({ code: 'CONFIRMATION_REQUIRED', details: { proposal: { serviceType: 'grafana' } } });
    const env = runInPty(box, ['allocate', '-s', 'grafana', '--env'], { prompt: '[y/N]', answer: 'y' });
    expect(env.answers).toBe(0);
    expect(env.code).toBe(7);
    expect(fs.existsSync(path.join(box.home, 'state.json')) ? box.readState().allocations : []).toEqual([]);
  });
});

describe('run and start on a terminal', () => {
  ptyTest('run: a yes gives the new type its range, and the command runs with its port', () => {
    const r = runInPty(box, ['run', '-s', 'grafana', '--', process.execPath, '-e', 'console.log("port=" + process.env.PORT)'], {
      prompt: '[y/N]',
      answer: 'y',
    });
    expect(r.code).toBe(0);
    const [low, high] = userConfig().service_types.grafana.port_range as [number, number];
    const port = Number(/port=(\d+)/.exec(r.output)?.[1]);
    expect(port).toBeGreaterThanOrEqual(low);
    expect(port).toBeLessThanOrEqual(high);
    // run released what it made.
    expect(box.readState().allocations).toEqual([]);
  });

  ptyTest('start: a yes starts the server on the new range; a no starts nothing', () => {
    const server = `require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`;
    const no = runInPty(box, ['start', '-s', 'grafana', '--', process.execPath, '-e', server], { prompt: '[y/N]', answer: 'n' });
    expect(no.code).not.toBe(0);
    expect(no.output).toContain('Declined');
    expect(box.run(['list', '--json']).json.allocations).toEqual([]);

    const yes = runInPty(box, ['start', '-s', 'grafana', '--', process.execPath, '-e', server], { prompt: '[y/N]', answer: 'y' });
    expect(yes.code).toBe(0);
    const port = Number(/port: (\d+)/.exec(yes.output)?.[1]);
    const [low, high] = userConfig().service_types.grafana.port_range as [number, number];
    expect(port).toBeGreaterThanOrEqual(low);
    expect(port).toBeLessThanOrEqual(high);
    expect(box.run(['list', '--json']).json.allocations).toEqual([expect.objectContaining({ serviceType: 'grafana', port })]);
    expect(box.run(['stop', String(port), '--json']).code).toBe(0);
  });
});

describe('a question changes nothing', () => {
  test('not even the pruning of an ended owner: the state and the audit log stay as they were', () => {
    // An allocation whose owner has ended (PID 2^22 + 1 is above Linux's pid_max, never alive).
    const dead = { kind: 'process', pid: 4194305, startTime: '1' };
    const allocation = {
      lockId: 'dev-old-aaaaaa',
      serviceType: 'dev',
      instanceId: 'old',
      port: 3000,
      project: box.cwd,
      owner: dead,
      allocatedAt: '2026-01-01T00:00:00.000Z',
    };
    fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations: [allocation] }), { mode: 0o600 });
    const before = files();
    const r = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(r.code).toBe(7);
    expect(r.json.error.code).toBe('CONFIRMATION_REQUIRED');
    expect(files()).toEqual(before);
    // The next call that goes ahead prunes it.
    expect(box.run(['allocate', '-s', 'grafana', '--yes', '--json']).json.pruned).toBe(1);
  });
});
