/**
 * The URL a service is reached at. Plain `http://localhost:PORT` by default. The subdomain style,
 * `http://<name>.<project>.localhost:PORT`, gives each worktree an origin of its own (cookies and
 * browser storage are kept per host, not per port), and needs no proxy or DNS set-up: browsers
 * and most resolvers (systemd-resolved, glibc's since 2.x with `myhostname`, macOS) send every
 * `*.localhost` name to the loopback address (RFC 6761). Some OAuth providers accept only plain
 * `localhost` in a redirect URI, which is why it stays the default.
 */

export const HOST_STYLES = ['localhost', 'subdomain'] as const;
export type HostStyle = (typeof HOST_STYLES)[number];

export function isHostStyle(value: unknown): value is HostStyle {
  return (HOST_STYLES as readonly unknown[]).includes(value);
}

export interface UrlOptions {
  /** A host to use as it is (`127.0.0.1`, `myapp.test`); wins over `style`. */
  host?: string;
  /** `subdomain`: `<name>.<project>.localhost`. Default `localhost`. */
  style?: HostStyle;
  /** The service's name in the subdomain style: its instance id, or its type. */
  name?: string;
  /** The project's name in the subdomain style: the project directory's base name. */
  project?: string;
}

/** A DNS label made from a name: lower case, letters, digits and `-` only, at most 63 characters. */
export function toHostLabel(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/** `http://localhost:PORT`, or the host or subdomain style the options ask for. */
export function urlFor(port: number, options: UrlOptions = {}): string {
  if (options.host !== undefined) return `http://${options.host}:${port}`;
  if (options.style !== 'subdomain') return `http://localhost:${port}`;
  const labels = [options.name, options.project].map((v) => (v === undefined ? '' : toHostLabel(v))).filter((l) => l !== '');
  return `http://${[...labels, 'localhost'].join('.')}:${port}`;
}
