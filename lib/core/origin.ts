/**
 * Derived home ports: the first port a sticky service (type + instance id + project) is offered
 * is a function of those alone, so that two machines, two fresh homes or a lost `~/.styxy` give
 * the same service the same port when it is free. The project is named by its repository's
 * identity (the remote's URL, or where there is none the repository's path), plus the worktree's
 * name for a linked worktree, so two worktrees of one repository get different ports. A project
 * may name itself (`name` in its `.styxy.json`): the name then stands for the repository.
 *
 * This is a promise to users (a port written into an OAuth console must not move between
 * versions): the hash, the key and the mapping below must never change.
 */

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`: cheap, stable, and needs no crypto module. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** What names a project across machines: its repository and, for a linked worktree, the worktree. */
export interface ProjectIdentity {
  /** `git:<normalized remote URL>`, `path:<the repository's directory>` without a remote, or `name:<the project's name>`. */
  repository: string;
  /** The linked worktree's name (`.git/worktrees/<name>`); '' for the main checkout. */
  worktree: string;
}

/**
 * The identity a project's `name` (in its `.styxy.json`) gives: the name stands for the
 * repository (so clones anywhere, with any remote or none, agree), while a linked worktree keeps
 * its own name beside it (two worktrees of one repository still get different ports). Without a
 * name, the identity read from git (or none).
 */
export function identityWithName(identity: ProjectIdentity | undefined, name: string | undefined): ProjectIdentity | undefined {
  if (name === undefined) return identity;
  return { repository: `name:${name}`, worktree: identity?.worktree ?? '' };
}

/** The text a derived port is hashed from. */
export function identityKey(identity: ProjectIdentity, serviceType: string, instanceId: string): string {
  return [identity.repository, identity.worktree, serviceType, instanceId].join('\n');
}

/** The derived home port of a sticky service within its type's range. */
export function derivePort(identity: ProjectIdentity, serviceType: string, instanceId: string, [low, high]: readonly [number, number]): number {
  return low + (fnv1a32(identityKey(identity, serviceType, instanceId)) % (high - low + 1));
}

/**
 * A remote's URL in one form whatever way it was written: `git@github.com:Team/Shop.git`,
 * `https://user@github.com/team/shop`, `ssh://git@github.com:22/team/shop.git` all become
 * `github.com/team/shop`. Lower case (the common hosts ignore case); a local path stays a path.
 */
export function normalizeRemoteUrl(url: string): string {
  let u = url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '');
  const scp = /^(?:[^@/:]+@)?([^/:]+):(?!\/)(.+)$/.exec(u);
  if (scp && !/^[a-z]:$/i.test(`${scp[1]}:`)) u = `${scp[1]}/${scp[2]}`;
  else {
    const full = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/?(.*)$/i.exec(u);
    if (full) u = `${full[1]}/${full[2]}`;
  }
  return u.replace(/\/+$/, '').toLowerCase();
}

/**
 * The URL of the remote that names a repository, from the text of its `.git/config`: `origin`'s,
 * else the first remote's with a URL; null when there is none.
 */
export function findRemoteUrl(gitConfig: string): string | null {
  let section: string | null = null;
  const urls = new Map<string, string>();
  for (const raw of gitConfig.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*remote\s+"((?:[^"\\]|\\.)*)"\s*\]/i.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    if (line.startsWith('[')) {
      section = null;
      continue;
    }
    const entry = /^url\s*=\s*(.*)$/i.exec(line);
    if (section !== null && entry && !urls.has(section)) urls.set(section, unquote(entry[1] ?? ''));
  }
  return urls.get('origin') ?? urls.values().next().value ?? null;
}

function unquote(value: string): string {
  const v = value.replace(/\s+[#;].*$/, '').trim();
  return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v;
}
