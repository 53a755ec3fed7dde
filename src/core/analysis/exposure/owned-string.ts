/**
 * A string as kept for long: a value cut from a log line would keep the whole
 * line alive (engines share the text of long substrings), so a new key is
 * copied once. The copy is made by a JSON round trip because that gives one
 * flat string: a slice of a concatenation is itself a slice, one more object
 * to read past on every lookup of a map of a hundred thousand identities. It
 * is exact for every string, lone surrogates included. Short strings are
 * copies already.
 */
export function ownedString<K>(k: K): K {
  return typeof k === 'string' && k.length > 12 ? (JSON.parse(JSON.stringify(k)) as K) : k;
}
