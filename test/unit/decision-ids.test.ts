import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionIds } from '../../src/system.js';

test('decision ids: a process prefix and the counter in base 36, eight digits or more, in order', () => {
  const ids = decisionIds();
  const first = ids.id();
  assert.match(first, /^[0-9a-f]{16}-00000001$/);
  const prefix = first.slice(0, 17);
  let previous = first;
  // Past several turns of the last two digits (36² = 1,296 ids each).
  for (let n = 2; n <= 20_000; n++) {
    const id = ids.id();
    assert.equal(id, `${prefix}${n.toString(36).padStart(8, '0')}`);
    assert.ok(id > previous, `${id} after ${previous}`);
    previous = id;
  }
  assert.notEqual(decisionIds().id().slice(0, 16), prefix.slice(0, 16), 'each source has its own prefix');
});
