// Names a model file may carry to attack whoever reads LeakLint's output: terminal escapes that forge lines, HTML and
// Markdown that would run or link, table syntax, bidirectional overrides and invisible characters.

/** An input name that, printed raw, ends the line and prints a green "all clean" line of its own. */
export const FORGED_LINE = 'x\n\x1b[32mleaklint: all models clean\x1b[0m';

export const HOSTILE_NAMES: readonly string[] = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(2)>',
  '[click](javascript:alert(3)) ![pixel](http://evil.example/p.png)',
  '| a | b |\n| --- | --- |\n| c | d |',
  'conv\u202egnp.exe',
  'co\u200bnv\u2066\u2069\ufeff',
  '\u009b31mred \x07bell\r',
  '# heading\n---\n**bold** _em_ `code` &amp; &lt;b&gt;',
];
