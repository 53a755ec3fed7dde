/**
 * The one reader of `Authorization: Bearer …` (src/server/bearer-token.ts),
 * shared by the control plane's authentication, ext_authz and the proxy:
 * RFC 6750 §2.1 over RFC 7235 §2.1, a table of fields and what they read as.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bearerToken } from '../../../src/server/bearer-token.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzcGlmZmU6Ly9hY21lLmNvcnAveCJ9.c2ln';
const NO_TOKEN = '';

// [field, what it reads as: the token, '' for the Bearer scheme without a usable token, undefined for none]
const TABLE: [field: string | string[] | undefined, want: string | undefined, why: string][] = [
  [`Bearer ${JWT}`, JWT, 'a JWT'],
  ['Bearer gha_Zm9vYmFy-_', 'gha_Zm9vYmFy-_', 'an admin secret'],
  [`bearer ${JWT}`, JWT, 'the scheme in lower case'],
  [`BEARER ${JWT}`, JWT, 'the scheme in upper case'],
  [`bEaReR ${JWT}`, JWT, 'the scheme in mixed case'],
  [`Bearer   ${JWT}`, JWT, 'a run of spaces (1*SP)'],
  ['Bearer aZ09-._~+/', 'aZ09-._~+/', 'every token68 character'],
  ['Bearer abc==', 'abc==', 'trailing = padding'],
  ['Bearer x', 'x', 'one character'],

  ['Bearer', NO_TOKEN, 'the scheme alone'],
  ['Bearer ', NO_TOKEN, 'the scheme and a space'],
  [`Bearer\t${JWT}`, NO_TOKEN, 'a tab for the space'],
  [`Bearer \t${JWT}`, NO_TOKEN, 'a space and a tab'],
  [`Bearer ${JWT} `, NO_TOKEN, 'a trailing space'],
  [`Bearer ${JWT}\t`, NO_TOKEN, 'a trailing tab'],
  [`Bearer ${JWT}\r\n`, NO_TOKEN, 'a trailing line break'],
  [` Bearer ${JWT}`, NO_TOKEN, 'a leading space'],
  [`Bearer ${JWT} x`, NO_TOKEN, 'a second token'],
  [`Bearer ${JWT}, Basic eA==`, NO_TOKEN, 'a second credential'],
  ['Bearer ab=c', NO_TOKEN, '= inside the token'],
  ['Bearer =abc', NO_TOKEN, 'only = padding first'],
  ['Bearer tok%20en', NO_TOKEN, 'a percent sign'],
  ['Bearer "tok"', NO_TOKEN, 'a quoted string'],
  ['Bearer realm="x"', NO_TOKEN, 'an auth-param (not token68)'],
  ['Bearer tök', NO_TOKEN, 'a non-ASCII letter'],
  ['Bearer tok\u0000', NO_TOKEN, 'a NUL'],
  ['Bearer,tok', NO_TOKEN, 'a comma for the space'],
  [`Bearer:${JWT}`, NO_TOKEN, 'a colon for the space'],

  [undefined, undefined, 'no field'],
  ['', undefined, 'an empty field'],
  ['Basic dXNlcjpwYXNz', undefined, 'the Basic scheme'],
  [`Token ${JWT}`, undefined, 'another scheme'],
  [`Bearerx ${JWT}`, undefined, 'a scheme that starts with Bearer'],
  [`Bearer-Token ${JWT}`, undefined, 'a scheme that extends Bearer'],
  [JWT, undefined, 'a token without a scheme'],
  [`DPoP ${JWT}`, undefined, 'the DPoP scheme (RFC 9449)'],

  [[`Bearer ${JWT}`], JWT, 'one field, as a list'],
  [[`Bearer ${JWT}`, `Bearer ${JWT}`], NO_TOKEN, 'the Bearer field twice'],
  [['Basic eA==', `Bearer ${JWT}`], NO_TOKEN, 'a Bearer field beside another'],
  [['Basic eA==', 'Basic eQ=='], undefined, 'two fields of another scheme'],
  [[], undefined, 'an empty list'],
];

describe('bearerToken', () => {
  for (const [field, want, why] of TABLE) {
    test(`${why}: ${JSON.stringify(field)?.slice(0, 60)}`, () => {
      assert.equal(bearerToken(field), want);
    });
  }
});
