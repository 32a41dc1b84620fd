import { isoTime } from '../../../lib/core/time';

describe('isoTime', () => {
  const edges = [
    0, -1, 1, 951_782_400_000 /* 2000-02-29 */, 951_868_799_999, 4_107_542_399_999 /* 2100-02-28T23:59:59.999 */, -62_167_219_200_000, 253_402_300_799_999,
    1_764_627_273_815, 1_709_164_800_000 /* 2024-02-29 */, -2_208_988_800_000 /* 1900-01-01 */,
  ];

  it('gives what Date#toISOString gives at the edges of days, leap years and its range', () => {
    for (const ms of edges) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('gives what Date#toISOString gives for 200 000 times across the years 0000-9999', () => {
    let seed = 12345;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    for (let i = 0; i < 200_000; i++) {
      const ms = Math.floor(-62_167_219_200_000 + next() * (253_402_300_799_999 + 62_167_219_200_000));
      const got = isoTime(ms);
      if (got !== new Date(ms).toISOString()) throw new Error(`${ms}: ${got} !== ${new Date(ms).toISOString()}`);
    }
    // Every day boundary of four centuries, one of them a non-leap century year. The mismatches
    // are gathered and asserted once: an expect() per boundary took 20 s of the unit tier.
    const wrong: string[] = [];
    for (let day = -4000; day < 146_097 + 4000; day++) {
      const ms = Date.UTC(1900, 0, 1) + day * 86_400_000;
      for (const t of [ms, ms - 1]) if (isoTime(t) !== new Date(t).toISOString()) wrong.push(`${t}: ${isoTime(t)} !== ${new Date(t).toISOString()}`);
    }
    expect(wrong).toEqual([]);
  });

  it('leaves times outside 0000-9999 and non-integers to Date, invalid ones included', () => {
    expect(isoTime(253_402_300_800_000)).toBe('+010000-01-01T00:00:00.000Z');
    expect(isoTime(-62_167_219_200_001)).toBe(new Date(-62_167_219_200_001).toISOString());
    expect(isoTime(1.5)).toBe(new Date(1.5).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });
});
