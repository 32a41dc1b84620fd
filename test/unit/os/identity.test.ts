import * as os from 'os';
import { hostName, passwdName, userName } from '../../../lib/os/identity';

test("the host and user names are the ones Node's os module gives", () => {
  expect(hostName()).toBe(os.hostname());
  expect(userName()).toBe(os.userInfo().username);
});

test('passwdName reads the name of a uid from passwd text, skipping NIS markers and short or other lines', () => {
  const text = [
    '+::::::',
    'root:x:0:0:root:/root:/bin/bash',
    'broken:x:1000',
    '-bob:x:1001:1001::/home/bob:/bin/sh',
    'alice:x:1001:1001:Alice:/home/alice:/bin/zsh',
    '',
  ].join('\n');
  expect(passwdName(0, text)).toBe('root');
  expect(passwdName(1001, text)).toBe('alice');
  expect(passwdName(1000, text)).toBeNull();
  expect(passwdName(4242, text)).toBeNull();
});
