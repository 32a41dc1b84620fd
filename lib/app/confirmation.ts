import type { StyxyError } from '../errors';

/**
 * A question a use case cannot answer itself (an auto-allocated range to accept, allocations to
 * drop): it returns this instead of acting, and whoever called it asks a person, then calls again
 * with the answer. Nothing was written when a question is returned.
 */
export interface Question {
  /** The yes/no question, as a person is asked it. */
  prompt: string;
  /** What to show before the question, one line each (what would be done, what changed). */
  context: string[];
  /** The failure when nobody can answer (no terminal, `--json`, the API): CONFIRMATION_REQUIRED, with what was proposed. */
  unanswered: StyxyError;
  /** The failure when the answer is no. */
  declined: StyxyError;
}

/** A question, and what the use case is to be called with after a yes. */
export interface Ask<A> {
  kind: 'ask';
  question: Question;
  yes: A;
}

/** One attempt of a use case that may need a yes: its result, or a question. */
export type Attempt<R, A> = { kind: 'done'; result: R } | Ask<A>;

/** Who answers: a person at a terminal. `nobody` when no one can be asked after all (stdin is not a terminal). */
export type Asker = (question: Question) => Promise<'yes' | 'no' | 'nobody'>;

/** A question asked again this many times (each answer changed what was proposed) is not asked once more. */
const MAX_QUESTIONS = 8;

/**
 * The one loop that serves every confirmation: runs `attempt` with the answers so far; while it
 * returns a question, asks `ask` and runs it again with what a yes means. Without an asker (or
 * when it finds nobody to ask), the question's CONFIRMATION_REQUIRED failure is thrown; a no
 * throws its refusal. Each attempt decides afresh, under the lock, so a proposal that changed
 * while the person thought is asked about again rather than carried out.
 */
export async function answerQuestions<R, A>(attempt: (answers: A | undefined) => Promise<Attempt<R, A>>, ask: Asker | undefined): Promise<R> {
  let answers: A | undefined;
  for (let asked = 0; ; asked++) {
    const step = await attempt(answers);
    if (step.kind === 'done') return step.result;
    const answer = ask && asked < MAX_QUESTIONS ? await ask(step.question) : 'nobody';
    if (answer === 'nobody') throw step.question.unanswered;
    if (answer === 'no') throw step.question.declined;
    answers = step.yes;
  }
}

/** An attempt that needed no answer. */
export function done<R>(result: R): { kind: 'done'; result: R } {
  return { kind: 'done', result };
}
