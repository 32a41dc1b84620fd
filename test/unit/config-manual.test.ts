import { SETTABLE_KEYS } from '../../lib/core/config-keys';
import { builtInConfig } from '../../lib/core/defaults';
import { PORT_FLOOR } from '../../lib/core/placement-strategies';
import { CONFIG_SETTINGS } from '../../lib/generated/config-bounds';
import { manualPage } from '../helpers/readme';

// The manual states each setting's default and values once, in the Settings table of
// docs/configuration.md (and the defaults again in auto-allocation.md's Options); both are held
// here to the built-in defaults and the schema, so that a setting added or changed without its
// row fails by name.

type Kind = { kind: string; bounds?: readonly [number, number]; values?: readonly string[] };
const SETTINGS = CONFIG_SETTINGS as unknown as Record<string, Record<string, Kind>>;
const DEFAULTS = builtInConfig() as unknown as Record<string, Record<string, unknown>>;

/** The rows of the first table after `heading` on a page: its cells, trimmed, the header and rule left out. */
function tableAfter(page: string, heading: string): string[][] {
  const text = manualPage(page);
  const at = text.indexOf(`\n${heading}\n`);
  if (at === -1) throw new Error(`${page} has no heading ${heading}`);
  const lines = text.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const rows = tableAfter('docs/configuration.md', '### Settings');
const byName = new Map(rows.map((row) => [row[0] as string, row]));
const SETTING_NAMES = Object.entries(SETTINGS).flatMap(([section, keys]) => Object.keys(keys).map((key) => `${section}.${key}`));

test('the Settings table has a row for every setting of the schema, and no other', () => {
  expect(rows.map((r) => r[0])).toEqual(SETTING_NAMES.map((name) => `\`${name}\``));
});

describe.each(SETTING_NAMES)('%s', (name) => {
  const [section, key] = name.split('.') as [string, string];
  const setting = SETTINGS[section]?.[key] as Kind;
  const [, defaultCell, valuesCell, setKeyCell] = byName.get(`\`${name}\``) ?? [];

  test('its default is the built-in one', () => {
    expect(defaultCell).toBe(`\`${JSON.stringify(DEFAULTS[section]?.[key])}\``);
  });

  test('its values are the schema’s', () => {
    if (setting.bounds) {
      const low = setting.kind === 'port' ? Math.max(PORT_FLOOR, setting.bounds[0]) : setting.bounds[0];
      expect(valuesCell).toContain(`${low}-${setting.bounds[1]}`);
    }
    for (const value of setting.values ?? []) expect(valuesCell).toContain(`\`${value}\``);
  });

  test('its config set key is the one config set takes (or none)', () => {
    const kebab = name.replace(/_/g, '-');
    expect(setKeyCell?.startsWith(SETTABLE_KEYS.includes(kebab) ? `\`${kebab}\`` : '—')).toBe(true);
  });
});

test('auto-allocation.md’s Options state the built-in defaults', () => {
  const options = tableAfter('docs/auto-allocation.md', '### Options');
  const stated = options.flatMap((row) => {
    const keys = [...(row[0] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
    const defaults = [...(row[2] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    return keys.map((key, i) => [key, defaults[i]]);
  });
  const expected = Object.entries(DEFAULTS.auto_allocation as Record<string, unknown>).map(([key, value]) => [
    key,
    typeof value === 'string' ? value : JSON.stringify(value),
  ]);
  expect(stated.sort()).toEqual(expected.sort());
});
