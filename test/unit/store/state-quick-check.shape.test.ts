import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { isSurelyValidState } from '../../../lib/store/state-quick-check';
import { validators } from '../../../lib/store/validators';

// The state's shape is stated once, in schemas/state.schema.json. The types are generated from it
// by the build; the quick check is hand-written for speed, and held to the schema from both sides:
// state-quick-check.test.ts proves it never accepts what the schema refuses, and this file that it
// knows every field the schema gives each record, so that a field added to the schema alone fails
// here by name instead of quietly sending every state that has it down ajv's slow path.

const ROOT = path.join(__dirname, '..', '..', '..');
const SCHEMA = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', 'state.schema.json'), 'utf8'));

type Node = Record<string, any>;
const resolve = (node: Node): Node => (node.$ref ? resolve(SCHEMA.definitions[String(node.$ref).replace('#/definitions/', '')]) : node);

/** A valid value for a schema node: its const, first enum value or example, or the least of its type; records with their required fields. */
function sample(node: Node): unknown {
  const n = resolve(node);
  if ('const' in n) return n.const;
  if (n.examples) return n.examples[0];
  if (n.enum) return n.enum[0];
  if (n.oneOf) return sample({ ...n, oneOf: undefined, ...n.oneOf[0] });
  const type = Array.isArray(n.type) ? n.type[0] : n.type;
  switch (type) {
    case 'string':
      return 'a';
    case 'integer':
    case 'number':
      return n.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return Array.from({ length: Math.max(1, n.minItems ?? 1) }, () => sample(n.items));
    case 'object':
      return record(n, []);
    default:
      throw new Error(`no sample for ${JSON.stringify(n)}`);
  }
}

/**
 * The largest valid value of a field with an upper bound (a string's maxLength, a number's
 * maximum), or undefined. Patterned strings are left out: their patterns are pinned as such.
 */
function largest(node: Node): unknown {
  const n = resolve(node);
  const type = Array.isArray(n.type) ? n.type[0] : n.type;
  if (type === 'string' && n.maxLength !== undefined && n.pattern === undefined) return 'x'.repeat(n.maxLength);
  if ((type === 'integer' || type === 'number') && n.maximum !== undefined) return n.maximum;
  return undefined;
}

/** A record of an object node with its required fields and the given optional ones. */
function record(node: Node, optional: string[]): Record<string, unknown> {
  const keys = [...(node.required ?? []), ...optional];
  return Object.fromEntries(keys.map((key) => [key, sample(node.properties[key])]));
}

/**
 * Every record the schema describes, found by walking it from the top (lists' items, an owner's
 * kinds), each with its place: how a state holds one, its other fields at their samples.
 */
function records(node: Node, name: string, inState: (r: Record<string, unknown>) => unknown): { name: string; node: Node; inState: typeof inState }[] {
  const found = [{ name, node, inState }];
  for (const [key, child] of Object.entries<Node>(node.properties ?? {})) {
    const c = resolve(child);
    const place = (wrap: (r: Record<string, unknown>) => unknown) => (r: Record<string, unknown>) => inState({ ...record(node, []), [key]: wrap(r) });
    if (c.type === 'array' && resolve(c.items).type === 'object')
      found.push(
        ...records(
          resolve(c.items),
          `${name}.${key}[]`,
          place((r) => [r]),
        ),
      );
    else if (c.oneOf)
      for (const branch of c.oneOf as Node[])
        found.push(
          ...records(
            branch,
            `${name}.${key}(${branch.title ?? '?'})`,
            place((r) => r),
          ),
        );
    else if (c.type === 'object' && c.properties)
      found.push(
        ...records(
          c,
          `${name}.${key}`,
          place((r) => r),
        ),
      );
  }
  return found;
}

const RECORDS = records(SCHEMA, 'state', (r) => r);

test('the quick check passes every field the schema gives each record, required or optional, up to its bounds', () => {
  const validate = validators().validateState;
  const unknownToSchema: string[] = [];
  const unknownToQuickCheck: string[] = [];
  for (const { name, node, inState } of RECORDS) {
    const optional = Object.keys(node.properties).filter((key) => !(node.required ?? []).includes(key));
    for (const extra of [null, ...optional]) {
      const label = extra === null ? `${name} (required fields only)` : `${name}.${extra}`;
      const state = JSON.parse(JSON.stringify(inState(record(node, extra === null ? [] : [extra]))));
      // The sample is valid, or this test would prove nothing about the quick check.
      if (!validate(state)) unknownToSchema.push(`${label}: ${JSON.stringify(validate.errors?.[0])}`);
      else if (!isSurelyValidState(state)) unknownToQuickCheck.push(label);
    }
    // Each bounded field at its bound: a bound widened in the schema alone fails here too.
    for (const [key, child] of Object.entries<Node>(node.properties)) {
      const most = largest(child);
      if (most === undefined) continue;
      const label = `${name}.${key} at ${typeof most === 'string' ? `maxLength ${most.length}` : `maximum ${most}`}`;
      const state = JSON.parse(JSON.stringify(inState({ ...record(node, [key]), [key]: most })));
      if (!validate(state)) unknownToSchema.push(`${label}: ${JSON.stringify(validate.errors?.[0])}`);
      else if (!isSurelyValidState(state)) unknownToQuickCheck.push(label);
    }
  }
  expect(unknownToSchema).toEqual([]);
  // A name here: lib/store/state-quick-check.ts does not know that field (or that it is
  // optional, or that it may be that long or large).
  expect(unknownToQuickCheck).toEqual([]);
});

test('the walk finds every record of the state', () => {
  expect(RECORDS.map((r) => r.name)).toEqual([
    'state',
    'state.allocations[]',
    'state.allocations[].user',
    'state.allocations[].compose',
    'state.allocations[].owner(ProcessOwner)',
    'state.allocations[].owner(LeaseOwner)',
    'state.allocations[].owner(PersistentOwner)',
    'state.recentlyFreed[]',
    'state.settled',
  ]);
});

test('lib/generated/ holds what the schemas make (a stale one: run `npm run build`)', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'generate-shapes.js'), '--check'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
