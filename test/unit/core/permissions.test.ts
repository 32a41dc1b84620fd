import { allocationUser, describeUser, mayActOn, othersAllocations } from '../../../lib/core/permissions';

const alice = { uid: 1001, name: 'alice' };
const bob = { uid: 1002, name: 'bob' };
const root = { uid: 0, name: 'root' };

describe('mayActOn: the user that made an allocation, or root', () => {
  test.each([
    ["alice's own", { user: alice }, { uid: 1001 }, root, true],
    ["bob on alice's", { user: alice }, { uid: 1002 }, root, false],
    ["root on alice's", { user: alice }, { uid: 0 }, root, true],
    ['an older record in a home root owns: root only', {}, { uid: 1002 }, root, false],
    ["an older record in bob's own home: bob's", {}, { uid: 1002 }, bob, true],
    ['an older record, owner unknown: anyone', {}, { uid: 1002 }, null, true],
    ['no uids (Windows): no limits', { user: alice }, null, root, true],
  ] as const)('%s', (_name, allocation, caller, homeOwner, expected) => {
    expect(mayActOn(allocation, caller, homeOwner)).toBe(expected);
  });
});

test('allocationUser falls back to the home owner; othersAllocations lists only the refused', () => {
  expect(allocationUser({}, bob)).toBe(bob);
  expect(allocationUser({ user: alice }, bob)).toBe(alice);
  const mine = { lockId: 'a', user: bob };
  const theirs = { lockId: 'b', user: alice };
  const older: { lockId: string; user?: { uid: number } } = { lockId: 'c' };
  expect(othersAllocations([mine, theirs, older], { uid: 1002 }, bob)).toEqual([theirs]);
  expect(othersAllocations([mine, theirs], { uid: 0 }, bob)).toEqual([]);
});

test('describeUser: the name, else the uid', () => {
  expect(describeUser(alice)).toBe('alice');
  expect(describeUser({ uid: 7 })).toBe('uid 7');
  expect(describeUser(undefined)).toBe('-');
});
