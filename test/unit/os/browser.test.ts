import { browserCommand } from '../../../lib/os/browser';

const URL = 'http://localhost:3061';

test.each([
  ['firefox', ['firefox', URL]],
  ['firefox --new-tab', ['firefox', '--new-tab', URL]],
  ['firefox --new-tab %s', ['firefox', '--new-tab', URL]],
  ['open -a "Google Chrome" %s', ['open', '-a', 'Google Chrome', URL]],
  ['w3m:lynx', ['w3m', URL]],
  ['echo 100%% %s', ['echo', '100%', URL]],
  ['  ', null],
  ['', null],
])('%j', (browser, expected) => {
  expect(browserCommand(browser, URL)).toEqual(expected);
});
