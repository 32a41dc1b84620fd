/**
 * A small reader of one POSIX shell line, enough to find the simple commands in it and to put one
 * back changed while every other byte stays as written. It refuses (returns null) whatever it does
 * not read with certainty: command substitution, subshells, groups, here-documents, process
 * substitution, unclosed quotes. Pure.
 */

export interface ShellWord {
  kind: 'word';
  /** The word as the shell would pass it, quotes removed (variables left as written). */
  value: string;
  /** Where it stands in the line, [start, end). */
  start: number;
  end: number;
  /** It holds a `$` expansion: its value is not known here. */
  dynamic: boolean;
}

export interface ShellRedirect {
  kind: 'redirect';
  start: number;
  end: number;
}

export interface ShellOperator {
  kind: 'op';
  op: '&&' | '||' | ';' | '&' | '|' | '|&' | '\n';
  start: number;
  end: number;
}

export type ShellToken = ShellWord | ShellRedirect | ShellOperator;

/** One simple command: its words and redirections, and the operators either side. */
export interface SimpleCommand {
  words: ShellWord[];
  redirects: ShellRedirect[];
  start: number;
  end: number;
  before: ShellOperator | null;
  after: ShellOperator | null;
}

export interface ShellLine {
  tokens: ShellToken[];
  commands: SimpleCommand[];
  /** The text of the comments (after `#`), joined. */
  comments: string;
}

const OPERATOR_CHARS = new Set([';', '&', '|']);
const BLANK = new Set([' ', '\t']);

/** Reads `line`, or null when it holds a construct this reader does not follow. */
export function readShellLine(line: string): ShellLine | null {
  const tokens: ShellToken[] = [];
  let comments = '';
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i] as string;
    // A carriage return is skipped as a blank is (a line from Windows ends in one).
    if (BLANK.has(c) || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && line[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === '#') {
      const stop = line.indexOf('\n', i);
      const end = stop < 0 ? n : stop;
      comments += `${line.slice(i + 1, end)}\n`;
      i = end;
      continue;
    }
    const atCommandStart = tokens.length === 0 || tokens[tokens.length - 1]?.kind === 'op';
    const token = readToken(line, i, atCommandStart);
    if (token === null) return null;
    tokens.push(token);
    i = token.end;
  }
  return { tokens, commands: splitCommands(tokens), comments };
}

/** The token that starts at `at` (a blank or a comment does not), or null for a construct this reader refuses. */
function readToken(line: string, at: number, atCommandStart: boolean): ShellToken | null {
  const c = line[at] as string;
  if (c === '\n') return { kind: 'op', op: '\n', start: at, end: at + 1 };
  if (c === '(' || c === ')' || c === '`') return null;
  if (OPERATOR_CHARS.has(c)) return readOperator(line, at);
  if (c === '<' || c === '>' || (/[0-9]/.test(c) && /^[0-9]+[<>]/.test(line.slice(at, at + 4)))) return readRedirect(line, at);
  const word = readWord(line, at);
  // A reserved word where a command starts: a group, a loop or a condition, not a simple command.
  if (!word || (atCommandStart && RESERVED_AT_START.test(word.value))) return null;
  return word;
}

const RESERVED_AT_START = /^(\{|\}|if|then|else|elif|fi|for|while|until|do|done|case|esac|function|select|!|\[\[)$/;

/** `&&`, `||`, `|&`, `;`, `&`, `|` at `at`, or the redirection `&>`; `;;` and `;&` (case) are refused. */
function readOperator(line: string, at: number): ShellOperator | ShellRedirect | null {
  const two = line.slice(at, at + 2);
  if (two === '&&' || two === '||' || two === '|&') return { kind: 'op', op: two, start: at, end: at + 2 };
  if (two === ';;' || two === ';&') return null;
  if (two === '&>') return readRedirect(line, at);
  return { kind: 'op', op: line[at] as ';' | '&' | '|', start: at, end: at + 1 };
}

/** A redirection at `at`: `>f`, `>> f`, `2>&1`, `&>f`, `<f`, `>|f`. Here-documents are refused. */
function readRedirect(line: string, at: number): ShellRedirect | null {
  let i = at;
  while (/[0-9]/.test(line[i] ?? '')) i++;
  if (line[i] === '&' && line[i + 1] === '>') i += 2;
  else if (line[i] === '>' || line[i] === '<') i++;
  else return null;
  if (line[i - 1] === '<' && (line[i] === '<' || line[i] === '(')) return null;
  if (line[i - 1] === '>' && line[i] === '(') return null;
  if (line[i] === '>' || line[i] === '|') i++;
  if (line[i] === '&') {
    // 2>&1, >&2, <&-: the target is a descriptor.
    i++;
    const fd = /^([0-9]+|-)/.exec(line.slice(i));
    if (!fd) return null;
    return { kind: 'redirect', start: at, end: i + fd[0].length };
  }
  while (BLANK.has(line[i] ?? '')) i++;
  const target = readWord(line, i);
  if (!target || target.start === target.end) return null;
  return { kind: 'redirect', start: at, end: target.end };
}

/** One word from `at`, with its quotes; null for a construct not followed here. */
function readWord(line: string, at: number): ShellWord | null {
  let value = '';
  let dynamic = false;
  let i = at;
  const n = line.length;
  while (i < n) {
    const c = line[i] as string;
    if (BLANK.has(c) || c === '\n' || c === '\r' || OPERATOR_CHARS.has(c) || c === '<' || c === '>') break;
    if (c === '(' || c === ')' || c === '`') return null;
    if (c === '\\') {
      if (i + 1 >= n) return null;
      value += line[i + 1];
      i += 2;
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) return null;
      value += line.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= n) return null;
        const d = line[i] as string;
        if (d === '"') break;
        if (d === '`' || (d === '$' && line[i + 1] === '(')) return null;
        if (d === '$') dynamic = true;
        if (d === '\\' && i + 1 < n && '"\\$`\n'.includes(line[i + 1] as string)) {
          value += line[i + 1];
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      i++;
    } else if (c === '$') {
      if (line[i + 1] === '(') return null;
      dynamic = true;
      value += c;
      i++;
    } else {
      value += c;
      i++;
    }
  }
  return { kind: 'word', value, start: at, end: i, dynamic };
}

function splitCommands(tokens: readonly ShellToken[]): SimpleCommand[] {
  const commands: SimpleCommand[] = [];
  let current: SimpleCommand | null = null;
  let before: ShellOperator | null = null;
  for (const token of tokens) {
    if (token.kind === 'op') {
      if (current) {
        current.after = token;
        commands.push(current);
        current = null;
      }
      before = token;
      continue;
    }
    if (!current) current = { words: [], redirects: [], start: token.start, end: token.end, before, after: null };
    if (token.kind === 'word') current.words.push(token);
    else current.redirects.push(token);
    current.end = token.end;
  }
  if (current) commands.push(current);
  return commands;
}
