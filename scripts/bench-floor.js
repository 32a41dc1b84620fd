'use strict';
/**
 * The floor of Styxy's design, for `npm run bench`: the file and socket work one `allocate`
 * cannot do without (a lock directory taken and released with the holder's identity in it, the
 * config and state read, a port probed, the state rewritten atomically and durably, one audit
 * line), done with no Styxy code, no checks and no error handling, and without an exception
 * where a file is absent. What a one-shot call of a daemonless, file-locked allocator costs at
 * the least on this machine and this Node; Styxy's own figures are read against it.
 *
 * Run as `node scripts/bench-floor.js` with STYXY_HOME set to a home of its own (never a real
 * one: it takes no care of anything it finds there). Prints {"port": N} like allocate --json.
 */
const fs = require('fs');

const home = process.env.STYXY_HOME;
const lock = `${home}/state.json.lock`;
const nonce = (Date.now().toString(16) + process.pid.toString(16)).padStart(16, '0').slice(-16);
const readIfThere = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null);

// The holder's identity: this process and its start time, which tell a dead holder from a live one.
const stat = fs.readFileSync('/proc/self/stat', 'utf8');
const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];

// The home, then the lock: a holding prepared beside it and renamed onto it.
fs.mkdirSync(home, { recursive: true, mode: 0o700 });
const staging = `${lock}.new-${process.pid}-${nonce}`;
fs.mkdirSync(staging, { mode: 0o700 });
fs.mkdirSync(`${staging}/${nonce}`, { mode: 0o700 });
const holderFd = fs.openSync(`${staging}/${nonce}/holder`, 'wx', 0o600);
fs.writeSync(holderFd, JSON.stringify({ pid: process.pid, startTime, nonce }));
// The record and its name on the disk before the rename (a power cut must not leave an empty one).
fs.fsyncSync(holderFd);
fs.closeSync(holderFd);
const holdingFd = fs.openSync(`${staging}/${nonce}`, 'r');
fs.fsyncSync(holdingFd);
fs.closeSync(holdingFd);
fs.renameSync(staging, lock);

// Config and state.
const config = readIfThere(`${home}/config.json`);
if (config !== null) JSON.parse(config);
const text = readIfThere(`${home}/state.json`);
const state = text === null ? { version: 1, allocations: [] } : JSON.parse(text);

// The first port that no allocation holds and the OS finds free, probed as Styxy probes (Node's
// TCP handle, bound on ::, then listen); without the handle (a future Node), no probe.
const held = new Set(state.allocations.map((a) => a.port));
let TCP = null;
let SERVER = 0;
try {
  process.noDeprecation = true;
  ({
    TCP,
    constants: { SERVER },
  } = process.binding('tcp_wrap'));
} catch {
  TCP = null;
}
const free = (port) => {
  if (!TCP) return true;
  const handle = new TCP(SERVER);
  const err = handle.bind6('::', port, 0) || handle.listen(511);
  handle.close();
  return err === 0;
};
let port = 8000;
while (held.has(port) || !free(port)) port++;

// The state written whole (compact, the cheapest text): a temp file in the holding, fsync,
// rename; then one audit line.
state.allocations.push({ lockId: `api-${nonce}`, port, owner: { kind: 'persistent' }, allocatedAt: Date.now() });
const temp = `${lock}/${nonce}/state.json.tmp`;
const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
fs.writeSync(fd, Buffer.from(`${JSON.stringify(state)}\n`));
fs.fsyncSync(fd);
fs.closeSync(fd);
fs.renameSync(temp, `${home}/state.json`);
fs.appendFileSync(`${home}/audit.log`, `${JSON.stringify({ event: 'allocate', port })}\n`, { mode: 0o600 });

// Release: the holding renamed out of the lock, the lock and the holding removed.
const gone = `${lock}.old-${process.pid}-${nonce}`;
fs.renameSync(`${lock}/${nonce}`, gone);
fs.rmdirSync(lock);
fs.unlinkSync(`${gone}/holder`);
fs.rmdirSync(gone);
process.stdout.write(`${JSON.stringify({ port })}\n`);
