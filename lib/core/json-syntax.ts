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
  const scan = new SyntaxScan(text);
  scan.run();
  const problems = scan.found.map(({ offset, message }) => ({ ...lineAndColumn(text, offset), message }));
  if (problems.length === 0) problems.push({ line: 1, column: 1, message: 'not valid JSON' });
  const onlyTrailing = scan.found.length > 0 && scan.found.every((p) => p.message === TRAILING_COMMA);
  let repaired: string | null = null;
  if (onlyTrailing) {
    const chars = text.split('');
    for (const offset of scan.trailing) chars[offset] = ' ';
    repaired = chars.join('');
  }
  return { problems, repaired };
}

/** What the scanner expects next: a value, a property name, or what follows a value. */
type Expecting = 'value' | 'key' | 'after';

/**
 * One pass over the text as a state machine with an explicit stack of open objects and arrays.
 * Each step reads one token and says what comes next, or `null` at a problem (or at the end).
 */
class SyntaxScan {
  readonly found: { offset: number; message: string }[] = [];
  readonly trailing: number[] = [];
  private readonly stack: ('object' | 'array')[] = [];
  private i = 0;
  private readonly n: number;

  constructor(private readonly text: string) {
    this.n = text.length;
  }

  run(): void {
    let next: Expecting | null = 'value';
    while (next !== null) {
      this.skipSpace();
      next = next === 'value' ? this.value() : next === 'key' ? this.key() : this.after();
    }
  }

  private skipSpace(): void {
    const { text, n } = this;
    while (this.i < n && (text[this.i] === ' ' || text[this.i] === '\t' || text[this.i] === '\n' || text[this.i] === '\r')) this.i++;
  }

  private fail(message: string, offset = this.i): null {
    this.found.push({ offset, message: offset >= this.n ? 'unexpected end of file' : message });
    return null;
  }

  /** An object or array opens (or is empty), or a string or scalar is read. */
  private value(): Expecting | null {
    const c = this.text[this.i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      this.i++;
      this.skipSpace();
      if (this.text[this.i] === close) {
        this.i++;
        return 'after';
      }
      this.stack.push(c === '{' ? 'object' : 'array');
      return c === '{' ? 'key' : 'value';
    }
    if (c === '"') return this.string() ? 'after' : null;
    return this.scalar() ? 'after' : null;
  }

  /** A property name and its colon. */
  private key(): Expecting | null {
    if (this.text[this.i] !== '"') return this.fail('expected a property name in double quotes');
    if (!this.string()) return null;
    this.skipSpace();
    if (this.text[this.i] !== ':') return this.fail("expected ':' after a property name");
    this.i++;
    return 'value';
  }

  /** After a value: the end of the document, a closing bracket, or a comma (maybe trailing). */
  private after(): Expecting | null {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return this.i < this.n ? this.fail('unexpected text after the end of the document') : null;
    const close = top === 'object' ? '}' : ']';
    if (this.text[this.i] === close) {
      this.stack.pop();
      this.i++;
      return 'after';
    }
    if (this.text[this.i] !== ',') return this.fail(`expected ',' or '${close}'`);
    const comma = this.i;
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === '}' || this.text[this.i] === ']') {
      this.trailing.push(comma);
      this.found.push({ offset: comma, message: TRAILING_COMMA });
      return 'after';
    }
    return top === 'object' ? 'key' : 'value';
  }

  private string(): boolean {
    const { text, n } = this;
    this.i++; // the opening quote
    for (;;) {
      if (this.i >= n) return (this.fail('unterminated string'), false);
      const c = text.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return true;
      }
      if (c < 0x20) return (this.fail('control character in a string (escape it)'), false);
      if (c === 0x5c) {
        const e = text[this.i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 2, this.i + 6))) this.i += 6;
        else return (this.fail('invalid escape in a string'), false);
      } else this.i++;
    }
  }

  private scalar(): boolean {
    const { text, n } = this;
    if (/[-0-9]/.test(text[this.i] ?? '')) {
      let end = this.i;
      while (end < n && /[-+0-9.eE]/.test(text[end] as string)) end++;
      if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text.slice(this.i, end))) return (this.fail('invalid number'), false);
      this.i = end;
      return true;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, this.i)) {
        this.i += word.length;
        return true;
      }
    }
    return (this.fail('unexpected character where a value should start'), false);
  }
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
