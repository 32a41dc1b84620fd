import { FORWARD_GRACE_MS, forwardGraceMs } from '../../../lib/os/supervise';

test('the grace after a forwarded signal is 5 s unless a test shortens it; nonsense leaves it at 5 s', () => {
  expect(FORWARD_GRACE_MS).toBe(5000);
  expect(forwardGraceMs({})).toBe(5000);
  expect(forwardGraceMs({ STYXY_TEST_FORWARD_GRACE_MS: '500' })).toBe(500);
  for (const value of ['', '0', '-1', 'soon', 'NaN']) expect(forwardGraceMs({ STYXY_TEST_FORWARD_GRACE_MS: value })).toBe(5000);
});
