/** One JSON syntax problem: where (1-based line and column) and what, never quoting the text. */
export interface JsonSyntaxProblem {
  line: number;
  column: number;
  message: string;
}

export interface JsonSyntaxReport {
  problems: JsonSyntaxProblem[];
  /**
   * When every problem is a trailing comma: the text with those commas blanked out, so that the
   * rest of the file can be checked too and every problem reported at once. Else null.
   */
  repaired: string | null;
}

const TRAILING_COMMA = 'trailing comma (remove it)';

/**
 * Finds where a text that JSON.parse refused goes wrong. Trailing commas are reported and
 * stepped over, so that each one is named; the first other problem ends the scan. Messages
 * describe the problem without quoting the text, which may be a file holding secrets that
 * was linked in place of a config. Iterative, so that hostile nesting cannot overflow the stack.
 */
export function findJsonSyntaxProblems(text: string): JsonSyntaxReport {
  const found: { offset: number; message: string }[] = [];
  const trailing: number[] = [];
  const stack: ('object' | 'array')[] = [];
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (message: string, offset = i) => {
    found.push({ offset, message: offset >= n ? 'unexpected end of file' : message });
  };

  // Each pass reads one value, then what may follow it; `false` ends the scan at a problem.
  const readString = (): boolean => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) return (fail('unterminated string'), false);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return (fail('control character in a string (escape it)'), false);
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else return (fail('invalid escape in a string'), false);
      } else i++;
    }
  };
  const readScalar = (): boolean => {
    if (/[-0-9]/.test(text[i] ?? '')) {
      let end = i;
      while (end < n && /[-+0-9.eE]/.test(text[end] as string)) end++;
      if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text.slice(i, end))) return (fail('invalid number'), false);
      i = end;
      return true;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    return (fail('unexpected character where a value should start'), false);
  };

  // state: 'value' expects a value; 'key' a property name; 'after' what follows a value.
  let state: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    skipSpace();
    if (state === 'value') {
      const c = text[i];
      if (c === '{') {
        i++;
        skipSpace();
        if (text[i] === '}') {
          i++;
          state = 'after';
        } else {
          stack.push('object');
          state = 'key';
        }
      } else if (c === '[') {
        i++;
        skipSpace();
        if (text[i] === ']') {
          i++;
          state = 'after';
        } else {
          stack.push('array');
          state = 'value';
        }
      } else if (c === '"') {
        if (!readString()) break;
        state = 'after';
      } else {
        if (!readScalar()) break;
        state = 'after';
      }
    } else if (state === 'key') {
      if (text[i] !== '"') {
        fail('expected a property name in double quotes');
        break;
      }
      if (!readString()) break;
      skipSpace();
      if (text[i] !== ':') {
        fail("expected ':' after a property name");
        break;
      }
      i++;
      state = 'value';
    } else {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (i < n) fail('unexpected text after the end of the document');
        break;
      }
      const close = top === 'object' ? '}' : ']';
      if (text[i] === close) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') {
        fail(`expected ',' or '${close}'`);
        break;
      }
      const comma = i;
      i++;
      skipSpace();
      if (text[i] === '}' || text[i] === ']') {
        trailing.push(comma);
        found.push({ offset: comma, message: TRAILING_COMMA });
        continue;
      }
      state = top === 'object' ? 'key' : 'value';
    }
  }

  const problems = found.map(({ offset, message }) => ({ ...lineAndColumn(text, offset), message }));
  if (problems.length === 0) problems.push({ line: 1, column: 1, message: 'not valid JSON' });
  const onlyTrailing = found.length > 0 && found.every((p) => p.message === TRAILING_COMMA);
  let repaired: string | null = null;
  if (onlyTrailing) {
    const chars = text.split('');
    for (const offset of trailing) chars[offset] = ' ';
    repaired = chars.join('');
  }
  return { problems, repaired };
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: end - start + 1 };
}
