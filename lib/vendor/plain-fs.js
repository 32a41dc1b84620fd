// Bundled in place of graceful-fs, which proper-lockfile loads as its default `fs`. Styxy always
// passes its own `fs` to proper-lockfile, and graceful-fs's start-up (it patches the whole fs
// module) is paid on every call for nothing. See scripts/build.js.
module.exports = require('fs');
