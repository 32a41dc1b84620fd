import fs = require('fs');

/**
 * Who and where this process is: the host name and the user name, as `os.hostname()` and
 * `os.userInfo().username` give them. Node's `os` module is not loaded at start-up, and loading
 * it costs a one-shot call about 0.2 ms; on Linux both facts are read from the same sources the
 * C library uses, and `os` answers only where those fail. Each is read once per process.
 */

let host: string | undefined;

/** The host name: Linux's UTS name, which gethostname(2) returns; elsewhere `os.hostname()`. */
export function hostName(): string {
  if (host !== undefined) return host;
  try {
    const name = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').replace(/\n$/, '');
    if (name) return (host = name);
  } catch {
    /* not Linux */
  }
  return (host = osModule().hostname());
}

let user: string | undefined;

/**
 * The name of the account this process runs as: its entry in /etc/passwd, the first place
 * getpwuid(3) looks; an account from elsewhere (LDAP, systemd-homed) is asked of `os`. Falls
 * back to $USER, then 'unknown'.
 */
export function userName(): string {
  if (user !== undefined) return user;
  // One read of /etc/passwd serves both this and the user an allocation records.
  const name = callerUser()?.name;
  if (name) return (user = name);
  try {
    return (user = osModule().userInfo().username);
  } catch {
    return (user = process.env.USER ?? 'unknown');
  }
}

let caller: { uid: number; name?: string } | null | undefined;

/**
 * The Unix user this process runs as, as an allocation records it: the uid, and the name
 * /etc/passwd gives it (none when it has no entry there). Null where there are no uids (Windows).
 */
export function callerUser(): { uid: number; name?: string } | null {
  if (caller !== undefined) return caller;
  if (typeof process.getuid !== 'function') return (caller = null);
  const uid = process.getuid();
  const name = passwdName(uid);
  return (caller = name ? { uid, name } : { uid });
}

/** The name of `uid` in /etc/passwd, or null. */
export function passwdName(uid: number, text?: string): string | null {
  let passwd = text;
  if (passwd === undefined) {
    try {
      passwd = fs.readFileSync('/etc/passwd', 'utf8');
    } catch {
      return null;
    }
  }
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 7 && fields[0] && fields[2] === String(uid) && !fields[0].startsWith('+') && !fields[0].startsWith('-')) return fields[0];
  }
  return null;
}

/** Node's `os`, loaded only where it is needed (see above). */
export function osModule(): typeof import('os') {
  return require('os') as typeof import('os');
}
