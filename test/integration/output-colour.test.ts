import { useSandbox } from '../helpers/cli';
import { hasPty, runInPty } from '../helpers/pty';

/**
 * Colour and marks in human output, on a real terminal where it matters: NO_COLOR wins, then
 * FORCE_COLOR (0/false off; any other value on, even into a pipe), then "is stdout a terminal
 * whose TERM is not dumb". Under TERM=dumb the marks are ASCII words.
 */

const box = useSandbox();
const ESC = '\u001b[';
const maybe = hasPty() ? test : test.skip;
if (!hasPty()) console.warn('skipped: no pseudo-terminal here (python3 with pty)');

/** The sandbox sets NO_COLOR=1 for every other test; these unset it (empty is unset, as no-color.org says). */
const colourable = { NO_COLOR: '', FORCE_COLOR: '', TERM: 'xterm-256color' };

maybe('on a terminal: colour and the marks', () => {
  const r = runInPty(box, ['allocate', '-s', 'dev'], { env: colourable });
  expect(r.code).toBe(0);
  expect(r.output).toContain(ESC);
  expect(r.output).toContain('\u2714');
});

maybe.each([[{ NO_COLOR: '1' }], [{ FORCE_COLOR: '0' }], [{ FORCE_COLOR: 'false' }], [{ NO_COLOR: '1', FORCE_COLOR: '1' }]])(
  'on a terminal, %j: no colour',
  (env) => {
    const r = runInPty(box, ['allocate', '-s', 'dev'], { env: { ...colourable, ...env } });
    expect(r.code).toBe(0);
    expect(r.output).not.toContain(ESC);
    expect(r.output).toContain('\u2714');
  },
);

test.each([['1'], ['2'], ['3'], ['true']])('FORCE_COLOR=%s: colour into a pipe too', (force) => {
  const r = box.run(['allocate', '-s', 'dev'], { env: { ...colourable, FORCE_COLOR: force } });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(ESC);
});

test('into a pipe without FORCE_COLOR, and with NO_COLOR beside FORCE_COLOR: none', () => {
  expect(box.run(['allocate', '-s', 'dev'], { env: colourable }).stdout).not.toContain(ESC);
  expect(box.run(['allocate', '-s', 'dev'], { env: { ...colourable, FORCE_COLOR: '1', NO_COLOR: '1' } }).stdout).not.toContain(ESC);
});

maybe('TERM=dumb on a terminal: no colour, and the marks are ASCII words', () => {
  const made = runInPty(box, ['allocate', '-s', 'dev', '-n', 'web'], { env: { ...colourable, TERM: 'dumb' } });
  expect(made.code).toBe(0);
  expect(made.output).toMatch(/^ok Allocated port \d+/m);
  expect(made.output).toMatch(/^[\x20-\x7e\n]*$/);
  const doctor = runInPty(box, ['doctor'], { env: { ...colourable, TERM: 'dumb' } });
  expect(doctor.output).toMatch(/^ok [a-z]/m);
  expect(doctor.output).not.toContain(ESC);
  expect(doctor.output).not.toMatch(/[\u2714\u2718\u2139]/);
});

test('TERM=dumb with FORCE_COLOR=1: the colour asked for, the marks still ASCII', () => {
  const r = box.run(['allocate', '-s', 'dev'], { env: { ...colourable, TERM: 'dumb', FORCE_COLOR: '1' } });
  expect(r.stdout).toContain(ESC);
  expect(r.stdout).toContain(`ok${ESC}0m Allocated port`);
});
