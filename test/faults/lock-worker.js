// One contender in the lock stress test: until the deadline, take the lock, write its own id
// into a shared file, give other processes a chance to run, read the file back, and release.
// An optional third argument caps the rounds. Prints one JSON line when done: rounds, and
// overlaps (the file changed under it while held). The first argument is the bundle of the
// lock's sources that the test made (test/helpers/sources.ts).
'use strict';
const fs = require('fs');
const path = require('path');

const [sources, home, until, maxRounds] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5] || Infinity)];
const { acquireLock, resolvePaths } = require(sources);
const paths = resolvePaths({ STYXY_HOME: home });
const shared = path.join(home, 'holder.txt');

async function main() {
  let rounds = 0;
  let overlaps = 0;
  while (Date.now() < until && rounds < maxRounds) {
    const lock = await acquireLock(paths, 20000);
    const me = `${process.pid}-${rounds}`;
    fs.writeFileSync(shared, me);
    await new Promise((r) => setImmediate(r));
    if (fs.readFileSync(shared, 'utf8') !== me) overlaps++;
    lock.assertHeld();
    await lock.release();
    rounds++;
  }
  process.stdout.write(`${JSON.stringify({ rounds, overlaps })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.code || ''} ${err.stack || err}\n`);
  process.exit(1);
});
