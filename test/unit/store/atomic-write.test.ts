import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { appendFileNoFollow, writeFileAtomic } from '../../../lib/store/atomic-write';
import { overrideFs, seam } from '../../../lib/store/fs-seam';

let dir: string;
let restore: (() => void) | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-aw-'));
});
afterEach(() => {
  restore?.();
  restore = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const leftovers = () => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

test('writes the whole content with mode 0600 and leaves no temp file', () => {
  const file = path.join(dir, 'state.json');
  writeFileAtomic(file, 'hello');
  expect(fs.readFileSync(file, 'utf8')).toBe('hello');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(leftovers()).toEqual([]);
});

test('short writes are continued until every byte is written', () => {
  const file = path.join(dir, 'state.json');
  const real = seam.writeSync;
  let calls = 0;
  restore = overrideFs({
    writeSync: (fd, buffer, offset, length) => {
      calls++;
      return real(fd, buffer, offset, Math.min(length, 7));
    },
  });
  const data = JSON.stringify({ allocations: Array.from({ length: 20 }, (_, i) => ({ port: 3000 + i })) });
  writeFileAtomic(file, data);
  expect(fs.readFileSync(file, 'utf8')).toBe(data);
  expect(calls).toBeGreaterThan(10);
});

test('a write that fails part-way (disk full) leaves the old file and no temp file', () => {
  const file = path.join(dir, 'state.json');
  fs.writeFileSync(file, 'old content');
  const real = seam.writeSync;
  let first = true;
  restore = overrideFs({
    writeSync: (fd, buffer, offset, length) => {
      if (first) {
        first = false;
        return real(fd, buffer, offset, Math.min(length, 3));
      }
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    },
  });
  expect(() => writeFileAtomic(file, 'new content that does not fit')).toThrow(expect.objectContaining({ code: 'WRITE_FAILED' }));
  expect(fs.readFileSync(file, 'utf8')).toBe('old content');
  expect(leftovers()).toEqual([]);
});

test('a write that makes no progress fails instead of spinning', () => {
  restore = overrideFs({ writeSync: () => 0 });
  expect(() => writeFileAtomic(path.join(dir, 'f'), 'x')).toThrow(expect.objectContaining({ code: 'WRITE_FAILED' }));
  expect(leftovers()).toEqual([]);
});

test('a symlink in the target’s place is refused and its target left untouched', () => {
  const target = path.join(dir, 'precious');
  fs.writeFileSync(target, 'keep me');
  const link = path.join(dir, 'state.json');
  fs.symlinkSync(target, link);
  expect(() => writeFileAtomic(link, 'overwrite')).toThrow(expect.objectContaining({ code: 'UNSAFE_HOME' }));
  expect(() => appendFileNoFollow(link, 'append')).toThrow(expect.objectContaining({ code: 'UNSAFE_HOME' }));
  expect(fs.readFileSync(target, 'utf8')).toBe('keep me');
  expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
});
