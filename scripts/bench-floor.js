'use strict';
/**
 * The floor of Styxy's design, for `npm run bench`: the file and socket work one `allocate`
 * cannot do without (a lock directory taken and released, the config and state read, a port
 * probed, the state rewritten atomically and durably, one audit line), done with no Styxy code,
 * no checks and no error handling. What a one-shot call of a daemonless, file-locked allocator
 * costs at the least on this machine and this Node; Styxy's own figures are read against it.
 *
 * Run as `node scripts/bench-floor.js` with STYXY_HOME set to a home of its own (never a real
 * one: it takes no care of anything it finds there). Prints {"port": N} like allocate --json.
 */
const fs = require('fs');

const home = process.env.STYXY_HOME;
const lock = `${home}/state.json.lock`;
const nonce = (Date.now().toString(16) + process.pid.toString(16)).padStart(16, '0').slice(-16);

// Who calls: this process's start time, its parent's (the owner) and the machine's boot.
const stat = fs.readFileSync('/proc/self/stat', 'utf8');
const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
fs.readFileSync(`/proc/${parent}/stat`, 'utf8');
fs.readFileSync(`/proc/${parent}/cmdline`);
const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

// The home, then the lock: a holding prepared beside it and renamed onto it.
try {
  fs.mkdirSync(home, { mode: 0o700 });
} catch {
  /* there already */
}
const staging = `${lock}.new-${process.pid}-${nonce}`;
fs.mkdirSync(staging, { mode: 0o700 });
fs.mkdirSync(`${staging}/${nonce}`, { mode: 0o700 });
fs.writeFileSync(`${staging}/${nonce}/holder`, JSON.stringify({ pid: process.pid, nonce, boot }), { flag: 'wx', mode: 0o600 });
fs.renameSync(staging, lock);

// Config and state.
let state = { version: 1, allocations: [] };
try {
  JSON.parse(fs.readFileSync(`${home}/config.json`, 'utf8'));
} catch {
  /* the defaults */
}
try {
  state = JSON.parse(fs.readFileSync(`${home}/state.json`, 'utf8'));
} catch {
  /* empty */
}

// The first port no allocation holds, probed as Styxy probes (Node's TCP handle, bound on ::).
const held = new Set(state.allocations.map((a) => a.port));
let port = 8000;
while (held.has(port)) port++;
process.noDeprecation = true;
const { TCP, constants } = process.binding('tcp_wrap');
const probe = new TCP(constants.SERVER);
probe.bind6('::', port, 0);
probe.listen(511);
probe.close();

// The state written whole (compact, the cheapest text): a temp file in the holding, fsync,
// rename; then one audit line.
state.allocations.push({ lockId: `api-${nonce}`, port, owner: { kind: 'persistent' }, allocatedAt: new Date().toISOString() });
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
