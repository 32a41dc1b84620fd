import { spawnSync } from 'child_process';
import * as net from 'net';
import { findFirstFreePort, loadHandleProbe, probePortFree, probePortFreeWithServer, readListeners } from '../../../lib/os/ports';
import { closeServer, freePortBlock, hasIPv6Loopback, listen } from '../../helpers/cli';
import { useBundleOfSources } from '../../helpers/sources';

const linux = process.platform === 'linux';

(linux ? describe : describe.skip)('the socket tables (/proc/net/tcp, tcp6)', () => {
  test('a listener on 127.0.0.1 and one on ::1 are both listed, and both found busy by the bind probe', async () => {
    const base = await freePortBlock(2);
    const servers = [await listen(base, '127.0.0.1')];
    if (await hasIPv6Loopback()) servers.push(await listen(base + 1, '::1'));
    try {
      const listening = new Set(readListeners()!.map((l) => l.port));
      for (const s of servers) {
        const port = (s.address() as net.AddressInfo).port;
        expect(listening.has(port)).toBe(true);
        expect(await probePortFree(port)).toBe(false);
      }
    } finally {
      for (const s of servers) await closeServer(s);
    }
    expect(await probePortFree(base)).toBe(true);
  });

  test('findFirstFreePort skips a held port and the ports it is told to skip', async () => {
    const base = await freePortBlock(3);
    const server = await listen(base, '127.0.0.1');
    try {
      expect(await findFirstFreePort([base, base + 1, base + 2])).toBe(base + 1);
      expect(await findFirstFreePort([base, base + 1], (p) => p === base + 1)).toBeUndefined();
    } finally {
      await closeServer(server);
    }
    expect(await findFirstFreePort([base])).toBe(base);
  });
});

describe("the probe on Node's TCP handle gives the answers of net.Server#listen", () => {
  const handleProbe = loadHandleProbe();

  test('the handle is reachable on this Node, so the fast probe is the one in use', () => {
    expect(handleProbe).not.toBeNull();
  });

  function listenOn(port: number, host: string, ipv6Only: boolean): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port, host, ipv6Only }, () => resolve(server));
    });
  }

  test('free, and held on each kind of address', async () => {
    const v6 = await hasIPv6Loopback();
    const holders: [string, boolean][] = [
      ['127.0.0.1', false],
      ['0.0.0.0', false],
    ];
    if (v6) holders.push(['::1', true], ['::', false], ['::', true]);
    const base = await freePortBlock(holders.length + 1);
    expect([handleProbe!(base), await probePortFreeWithServer(base)]).toEqual([true, true]);
    for (const [index, [host, ipv6Only]] of holders.entries()) {
      const port = base + 1 + index;
      const server = await listenOn(port, host, ipv6Only);
      try {
        expect({ host, ipv6Only, answers: [handleProbe!(port), await probePortFreeWithServer(port)] }).toEqual({ host, ipv6Only, answers: [false, false] });
      } finally {
        await closeServer(server);
      }
      // Released, both see it free again at once: the probe's own handle holds nothing back.
      expect([handleProbe!(port), handleProbe!(port), await probePortFreeWithServer(port)]).toEqual([true, true, true]);
    }
  });

  const portsSources = useBundleOfSources({ 'lib/os/ports': ['probePortFreeWithServer', 'loadHandleProbe'] });
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
  (asRoot && hasSetpriv ? test : test.skip)('a privileged port is busy to a user who may not bind it, by both probes', () => {
    const ports = portsSources();
    const script = `const p = require(${JSON.stringify(ports)}); p.probePortFreeWithServer(1).then((viaServer) => process.stdout.write(JSON.stringify([p.loadHandleProbe()(1), viaServer])));`;
    const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', cwd: '/' });
    expect(asNobody.stderr).toBe('');
    expect(JSON.parse(asNobody.stdout)).toEqual([false, false]);
    const asThisUser = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(asThisUser.stdout)).toEqual([true, true]);
  });
});
