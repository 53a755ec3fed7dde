/**
 * The package as a user gets it after `npm ci`: the built `gatehouse` bin and
 * `import('gatehouse')` resolving to the public API through package exports.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;
const built = existsSync(`${root}/dist/index.js`);

describe('package surface', { skip: built ? false : 'run `npm run build` first (npm test does)' }, () => {
  test("import('gatehouse') resolves to the public API and nothing internal", () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('gatehouse'); console.log(JSON.stringify(Object.keys(m).sort()))",
      ],
      { cwd: root, encoding: 'utf8' },
    );
    const names = JSON.parse(out) as string[];
    for (const name of [
      'parsePolicy',
      'compilePolicy',
      'checkPolicy',
      'explainDecision',
      'parseSpiffeId',
      'GatehouseError',
    ]) {
      assert.ok(names.includes(name), `missing export ${name}`);
    }
    for (const internal of ['DecisionEngine', 'KeySpace', 'RuleBucket', 'compileValidatedPolicy', 'main']) {
      assert.ok(!names.includes(internal), `internal name ${internal} leaks`);
    }
    const deep = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "await import('gatehouse/dist/core/decision/engine.js')"],
      { cwd: root, encoding: 'utf8' },
    );
    assert.notEqual(deep.status, 0, 'deep imports must not resolve');
    assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  test('types are published next to the entry point', () => {
    assert.ok(existsSync(`${root}/dist/index.d.ts`));
  });

  test('the bin runs `check` as a real process', () => {
    const r = spawnSync(process.execPath, [`${root}/dist/cli/main.js`, 'check', 'examples/acme/policy'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /0 error\(s\)/);
    const bad = spawnSync(
      process.execPath,
      [`${root}/dist/cli/main.js`, 'check', 'test/fixtures/broken-policy'],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(bad.status, 3);
  });

  test('the bin is executable, as `npx gatehouse` runs it, and runs by itself', () => {
    // The build marks it so: npm may run a package's own bin directly, which fails without it.
    const r = spawnSync(`${root}/dist/cli/main.js`, ['check', 'examples/acme/policy'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, r.stderr);
  });
});
