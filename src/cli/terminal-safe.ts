/**
 * Text bound for a terminal with control characters written out: an error
 * message quotes what it was given (a name, a path, a server's answer), and
 * an escape sequence in it would otherwise be obeyed by the terminal (colour,
 * cursor moves, a rewritten title, text hidden after it). Line feeds and tabs
 * are kept: messages are laid out with them.
 */
// C0 controls but tab and line feed, DEL, and the C1 controls (which some terminals obey too).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
