// Jest's own runner, with each worker process in a network namespace of its own.
//
// The tests bind real sockets, and many on the default ranges' ports: a dev server that `styxy
// run` starts on 3000, a test that then expects `allocate -s dev` to answer 3000 and the port to
// be free again afterwards. Two workers sharing one loopback would see each other's servers.
// With a loopback of its own each worker is alone on every port, as one worker was before, so
// the files can run side by side: most of their time is spent waiting on child processes.
//
// Where no namespace can be made (unshare needs root, or a kernel that lets users have one),
// the files run one at a time in this process instead.
'use strict';
const childProcess = require('child_process');
const TestRunner = require('jest-runner').default;

/** Runs `node ARGS...` as `unshare --net sh -c 'ip link set lo up && exec node ARGS...'`. */
const NETNS = ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"'];

let usable;
function namespacesWork() {
  if (usable === undefined) {
    const probe = childProcess.spawnSync('unshare', [...NETNS, 'true'], { stdio: 'ignore' });
    usable = probe.status === 0;
    if (!usable) process.stderr.write('test: cannot give each Jest worker a network namespace (unshare needs root): running the files one at a time\n');
  }
  return usable;
}

class NetnsRunner extends TestRunner {
  async runTests(tests, watcher, options) {
    if (options.serial) return super.runTests(tests, watcher, options);
    if (!namespacesWork()) return super.runTests(tests, watcher, { ...options, serial: true });
    // jest-worker forks its workers with child_process.fork and offers no way to wrap them; the
    // fork is wrapped for as long as this run lasts (workers that crash are forked again).
    const fork = childProcess.fork;
    childProcess.fork = (modulePath, args, forkOptions = {}) =>
      fork(modulePath, args, {
        ...forkOptions,
        execPath: 'unshare',
        execArgv: [...NETNS, forkOptions.execPath ?? process.execPath, ...(forkOptions.execArgv ?? process.execArgv)],
      });
    try {
      return await super.runTests(tests, watcher, options);
    } finally {
      childProcess.fork = fork;
    }
  }
}

module.exports = NetnsRunner;
