import { toHostLabel, urlFor } from '../../../lib/core/url';

test.each<[string, Parameters<typeof urlFor>[1], string]>([
  ['plain localhost by default', {}, 'http://localhost:3000'],
  ['plain localhost ignores the names', { style: 'localhost', name: 'web', project: 'shop' }, 'http://localhost:3000'],
  ['the subdomain style names the service and the project', { style: 'subdomain', name: 'web', project: 'shop' }, 'http://web.shop.localhost:3000'],
  ['names become DNS labels', { style: 'subdomain', name: 'Web_1.x', project: 'My Shop!' }, 'http://web-1-x.my-shop.localhost:3000'],
  ['an empty label is left out', { style: 'subdomain', name: '---', project: 'shop' }, 'http://shop.localhost:3000'],
  ['no names: localhost alone', { style: 'subdomain' }, 'http://localhost:3000'],
  ['a host wins', { host: '127.0.0.1', style: 'subdomain', name: 'web' }, 'http://127.0.0.1:3000'],
])('%s', (_name, options, url) => expect(urlFor(3000, options)).toBe(url));

test('a label is at most 63 characters and never ends in -', () => {
  const label = toHostLabel(`${'a'.repeat(62)}-b`);
  expect(label).toBe('a'.repeat(62));
  expect(toHostLabel('x'.repeat(100))).toHaveLength(63);
});
