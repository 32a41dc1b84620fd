import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import * as implementation from '../../lib/api';
import type * as Declared from '../../types/styxy';

// The declarations users compile against (types/styxy.d.ts, shipped as dist/api.d.ts) hold the
// implementation to them: `npm run typecheck` fails when lib/api.ts drifts from them. What a user
// writes against the installed package is compiled in test/tools/package.test.ts.

const asDeclared: Omit<typeof Declared, 'StyxyError'> = implementation;
const errorClass: new (...args: ConstructorParameters<typeof Declared.StyxyError>) => Declared.StyxyError = implementation.StyxyError;

test('lib/api.ts exports exactly what the declarations declare', () => {
  expect(
    Object.keys(implementation)
      .filter((k) => k !== '__esModule')
      .sort(),
  ).toEqual(['StyxyError', 'allocate', 'allocateMany', 'envVars', 'list', 'release', 'stop', 'whoHolds', 'withPort']);
  expect(typeof asDeclared.withPort).toBe('function');
  expect(new errorClass('NOT_FOUND', 'x').exitCode).toBe(8);
});

describe('the declarations document every export', () => {
  const file = path.join(__dirname, '..', '..', 'types', 'styxy.d.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const errorCodes = new Set(
    source.statements
      .filter(ts.isTypeAliasDeclaration)
      .filter((s) => s.name.text === 'ErrorCode')
      .flatMap((s) => (ts.isUnionTypeNode(s.type) ? s.type.types : []))
      .map((t) => (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? t.literal.text : '')),
  );
  const isExported = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const tagsOf = (node: ts.Node) => ts.getJSDocTags(node).map((tag) => ({ name: tag.tagName.text, text: ts.getTextOfJSDocComment(tag.comment) ?? '' }));
  const callables = source.statements.filter((s) => isExported(s) && (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s))) as (
    ts.FunctionDeclaration | ts.ClassDeclaration
  )[];

  test('every exported function (each overload) and class has an @example', () => {
    expect(callables.map((s) => s.name?.text).sort()).toEqual([
      'StyxyError',
      'allocate',
      'allocate',
      'allocateMany',
      'envVars',
      'list',
      'release',
      'stop',
      'whoHolds',
      'withPort',
    ]);
    const without = callables.filter((s) => !tagsOf(s).some((t) => t.name === 'example' && t.text.trim() !== '')).map((s) => s.name?.text);
    expect(without).toEqual([]);
  });

  test('every exported function has @throws naming the codes it rejects with, each a real ErrorCode', () => {
    expect(errorCodes.size).toBeGreaterThan(20);
    for (const fn of callables.filter(ts.isFunctionDeclaration)) {
      const throws = tagsOf(fn).filter((t) => t.name === 'throws');
      expect([fn.name?.text, throws.length > 0]).toEqual([fn.name?.text, true]);
      // `@throws {StyxyError} CODE, CODE or CODE when ...`: the codes lead the text.
      const codes = throws.flatMap((t) => (/^[A-Z_]+(?:(?:,\s*|\s+or\s+)[A-Z_]+)*/.exec(t.text)?.[0] ?? '').split(/,\s*|\s+or\s+/).filter(Boolean));
      expect([fn.name?.text, codes.length > 0]).toEqual([fn.name?.text, true]);
      expect([fn.name?.text, codes.filter((c) => !errorCodes.has(c))]).toEqual([fn.name?.text, []]);
      if (fn.name?.text !== 'envVars')
        expect([fn.name?.text, codes]).toEqual([fn.name?.text, expect.arrayContaining(['ABORTED', 'LOCK_TIMEOUT', 'INVALID_ARGUMENT'])]);
    }
  });

  test('every duration is in milliseconds and named ...Ms; the older names are marked @deprecated', () => {
    const offending: string[] = [];
    const visit = (node: ts.Node): void => {
      if ((ts.isPropertySignature(node) || ts.isParameter(node)) && ts.isIdentifier(node.name)) {
        const name = node.name.text;
        const doc = ts
          .getJSDocCommentsAndTags(node)
          .map((d) => d.getText())
          .join(' ');
        const deprecated = ts.getJSDocTags(node).some((t) => t.tagName.text === 'deprecated');
        const durationName = /(Seconds|Secs|SecondsAgo)$|^(ttl|timeout|grace|wait|cooldown|delay)$/i.test(name);
        const saysMs = /\bmilliseconds\b|\(ms\)/.test(doc);
        if ((durationName && !deprecated) || (saysMs && !name.endsWith('Ms') && !deprecated)) offending.push(name);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    expect(offending).toEqual([]);
  });
});
