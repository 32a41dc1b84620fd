import { StyxyError } from '../../../lib/errors';
import { answerQuestions, done, type Asker, type Attempt, type Question } from '../../../lib/app/confirmation';

// The one loop that serves confirmations: a use case returns a question, the caller asks, and
// the use case is called again with what a yes means.

const question = (n: number): Question => ({
  prompt: `question ${n}?`,
  context: [],
  unanswered: new StyxyError('CONFIRMATION_REQUIRED', `unanswered ${n}`),
  declined: new StyxyError('CONFIRMATION_REQUIRED', `declined ${n}`),
});

/** A use case that needs `needed` yeses, each answer adding to the list it is called with. */
function useCase(needed: number) {
  const calls: Array<number[] | undefined> = [];
  const attempt = async (answers: number[] | undefined): Promise<Attempt<string, number[]>> => {
    calls.push(answers);
    const given = answers ?? [];
    if (given.length >= needed) return done(`done after ${given.join(',')}`);
    return { kind: 'ask', question: question(given.length + 1), yes: [...given, given.length + 1] };
  };
  return { attempt, calls };
}

/** The questions asked in the running test, in order. */
let asked: string[] = [];

/** A person who gives these answers in turn, then finds nobody to answer. */
const answering =
  (...answers: Array<'yes' | 'no' | 'nobody'>): Asker =>
  async (q) => {
    asked.push(q.prompt);
    return answers.shift() ?? 'nobody';
  };

describe('answerQuestions', () => {
  beforeEach(() => {
    asked = [];
  });

  test('no question: the result of the first attempt, nobody asked', async () => {
    const { attempt, calls } = useCase(0);
    const ask = answering();
    await expect(answerQuestions(attempt, ask)).resolves.toBe('done after ');
    expect(calls).toEqual([undefined]);
    expect(asked).toEqual([]);
  });

  test('each yes calls again with what the yes means, answers accumulating', async () => {
    const { attempt, calls } = useCase(2);
    await expect(answerQuestions(attempt, answering('yes', 'yes'))).resolves.toBe('done after 1,2');
    expect(calls).toEqual([undefined, [1], [1, 2]]);
    expect(asked).toEqual(['question 1?', 'question 2?']);
  });

  test('a no throws the question’s refusal; nobody to ask, or no asker, its CONFIRMATION_REQUIRED', async () => {
    await expect(answerQuestions(useCase(2).attempt, answering('yes', 'no'))).rejects.toThrow('declined 2');
    await expect(answerQuestions(useCase(1).attempt, answering('nobody'))).rejects.toThrow('unanswered 1');
    const { attempt, calls } = useCase(1);
    await expect(answerQuestions(attempt, undefined)).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED', message: 'unanswered 1' });
    expect(calls).toEqual([undefined]);
  });

  test('a question that keeps coming back is asked 8 times, then fails as unanswered', async () => {
    const { attempt, calls } = useCase(100);
    const yeses = Array.from({ length: 100 }, () => 'yes' as const);
    await expect(answerQuestions(attempt, answering(...yeses))).rejects.toThrow('unanswered 9');
    expect(asked).toHaveLength(8);
    expect(calls).toHaveLength(9);
  });
});
