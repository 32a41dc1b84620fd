import { randomHex } from '../../../lib/os/random';

test('randomHex gives the asked number of bytes as lowercase hex, across refills of its pool and beyond its size', () => {
  for (const bytes of [1, 4, 7, 8, 16, 63, 64, 65, 200]) {
    const hex = randomHex(bytes);
    expect(hex).toMatch(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
  }
});

test('no draw repeats another: 20 000 nonces of 8 bytes, drawn across hundreds of pool refills, are all distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) seen.add(randomHex(8));
  expect(seen.size).toBe(20_000);
  // Byte values spread over the whole range (a pool handed out twice, or zeros, would not).
  const counts = new Map<number, number>();
  for (const hex of seen)
    for (let j = 0; j < hex.length; j += 2) counts.set(parseInt(hex.slice(j, j + 2), 16), (counts.get(parseInt(hex.slice(j, j + 2), 16)) ?? 0) + 1);
  expect(counts.size).toBe(256);
  expect(Math.min(...counts.values())).toBeGreaterThan(400);
});
