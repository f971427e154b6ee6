// Syntax highlighting for the catalog's languages: each catalog id (or
// alias) maps to one of CodeMirror's ported legacy modes, which are small
// (a few KB each) and cover every family the catalog has. An id that is not
// here (a language added to a catalog later) gets a plain editor.
import { StreamLanguage } from "@codemirror/language";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { sqlite } from "@codemirror/legacy-modes/mode/sql";
import { forth } from "@codemirror/legacy-modes/mode/forth";
import { c, cpp, objectiveC, java, kotlin, scala, csharp, clike } from "@codemirror/legacy-modes/mode/clike";
import { fortran } from "@codemirror/legacy-modes/mode/fortran";
import { d } from "@codemirror/legacy-modes/mode/d";
import { vhdl } from "@codemirror/legacy-modes/mode/vhdl";
import { gas } from "@codemirror/legacy-modes/mode/gas";
import { cobol } from "@codemirror/legacy-modes/mode/cobol";
import { erlang } from "@codemirror/legacy-modes/mode/erlang";
import { python } from "@codemirror/legacy-modes/mode/python";
import { pascal } from "@codemirror/legacy-modes/mode/pascal";
import { crystal } from "@codemirror/legacy-modes/mode/crystal";
import { groovy } from "@codemirror/legacy-modes/mode/groovy";
import { clojure } from "@codemirror/legacy-modes/mode/clojure";
import { javascript, typescript } from "@codemirror/legacy-modes/mode/javascript";
import { coffeeScript } from "@codemirror/legacy-modes/mode/coffeescript";
import { ruby } from "@codemirror/legacy-modes/mode/ruby";
import { perl } from "@codemirror/legacy-modes/mode/perl";
import { lua } from "@codemirror/legacy-modes/mode/lua";
import { tcl } from "@codemirror/legacy-modes/mode/tcl";
import { go } from "@codemirror/legacy-modes/mode/go";
import { rust } from "@codemirror/legacy-modes/mode/rust";
import { haskell } from "@codemirror/legacy-modes/mode/haskell";
import { oCaml } from "@codemirror/legacy-modes/mode/mllike";
import { commonLisp } from "@codemirror/legacy-modes/mode/commonlisp";
import { scheme } from "@codemirror/legacy-modes/mode/scheme";
import { r } from "@codemirror/legacy-modes/mode/r";
import { octave } from "@codemirror/legacy-modes/mode/octave";

function words(s) {
  const o = {};
  for (const w of s.split(" ")) o[w] = true;
  return o;
}

// PHP has no legacy mode of its own (CodeMirror's PHP support is a full
// Lezer grammar with embedded HTML, ten times the size): a C-like mode with
// PHP's keywords, $variables and # comments.
const php = clike({
  name: "php",
  keywords: words("abstract and array as break callable case catch class clone const continue declare default do echo else elseif empty enddeclare endfor endforeach endif endswitch endwhile enum extends final finally fn for foreach function global goto if implements include include_once instanceof insteadof interface isset list match namespace new or print private protected public readonly require require_once return static switch throw trait try unset use var while xor yield"),
  atoms: words("true false null TRUE FALSE NULL __CLASS__ __DIR__ __FILE__ __FUNCTION__ __LINE__ __METHOD__ __NAMESPACE__ __TRAIT__"),
  builtin: words("count strlen str_repeat implode explode array_map array_filter array_sum printf sprintf fgets fscanf trim intval floatval var_dump print_r json_encode json_decode"),
  multiLineStrings: true,
  hooks: {
    "$": (stream) => { stream.eatWhile(/[\w$]/); return "variableName.special"; },
    "#": (stream) => { stream.skipToEnd(); return "comment"; },
  },
});

// modes maps a catalog language id to its legacy mode.
const modes = {
  bash: shell, zsh: shell, dash: shell, sh: shell, awk: shell,
  sqlite: sqlite, sql: sqlite,
  forth: forth,
  c: c, "c-clang": c, cpp: cpp, "c++": cpp, "cpp-clang": cpp, objc: objectiveC,
  java: java, kotlin: kotlin, scala: scala, csharp: csharp,
  fortran: fortran, d: d, ada: vhdl, nasm: gas, cobol: cobol,
  prolog: erlang, erlang: erlang, elixir: ruby,
  nim: python, python: python, pypy: python,
  pascal: pascal, crystal: crystal, groovy: groovy, clojure: clojure,
  javascript: javascript, node: javascript, typescript: typescript, coffeescript: coffeeScript,
  ruby: ruby, perl: perl, raku: perl, php: php, lua: lua, tcl: tcl,
  go: go, rust: rust, haskell: haskell, ocaml: oCaml,
  commonlisp: commonLisp, racket: scheme, scheme: scheme, chez: scheme,
  r: r, octave: octave,
};

const cache = new Map();

// languageSupport returns the CodeMirror extension that highlights the
// catalog language with this id or one of these aliases, or [] (plain).
export function languageSupport(id, aliases = []) {
  for (const name of [id, ...aliases]) {
    const mode = modes[String(name).toLowerCase()];
    if (!mode) continue;
    if (!cache.has(mode)) cache.set(mode, StreamLanguage.define(mode));
    return cache.get(mode);
  }
  return [];
}

// examples are the programs a fresh editor shows: each prints a greeting,
// then echoes every line of stdin, so the same program shows batch stdin,
// streaming output and an interactive run.
const examples = {
  python: 'import sys\n\nprint("hello from execbox", flush=True)\nfor line in sys.stdin:\n    print("you said:", line.strip(), flush=True)\n',
  javascript: 'const rl = require("readline").createInterface({ input: process.stdin });\n\nconsole.log("hello from execbox");\nrl.on("line", (line) => console.log("you said:", line));\n',
  typescript: 'const rl = require("readline").createInterface({ input: process.stdin });\n\nconsole.log("hello from execbox");\nrl.on("line", (line: string) => console.log("you said:", line));\n',
  bash: 'echo "hello from execbox"\nwhile read -r line; do\n  echo "you said: $line"\ndone\n',
  c: '#include <stdio.h>\n\nint main(void) {\n    char line[256];\n    printf("hello from execbox\\n");\n    fflush(stdout);\n    while (fgets(line, sizeof line, stdin)) {\n        printf("you said: %s", line);\n        fflush(stdout);\n    }\n    return 0;\n}\n',
  cpp: '#include <iostream>\n#include <string>\n\nint main() {\n    std::cout << "hello from execbox" << std::endl;\n    for (std::string line; std::getline(std::cin, line);)\n        std::cout << "you said: " << line << std::endl;\n}\n',
  java: 'import java.io.*;\n\npublic class Main {\n    public static void main(String[] args) throws IOException {\n        System.out.println("hello from execbox");\n        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));\n        for (String line; (line = in.readLine()) != null;)\n            System.out.println("you said: " + line);\n    }\n}\n',
  go: 'package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Println("hello from execbox")\n\tsc := bufio.NewScanner(os.Stdin)\n\tfor sc.Scan() {\n\t\tfmt.Println("you said:", sc.Text())\n\t}\n}\n',
  rust: 'use std::io::BufRead;\n\nfn main() {\n    println!("hello from execbox");\n    for line in std::io::stdin().lock().lines() {\n        println!("you said: {}", line.unwrap());\n    }\n}\n',
  ruby: 'STDOUT.sync = true\nputs "hello from execbox"\nSTDIN.each_line { |line| puts "you said: #{line.chomp}" }\n',
  perl: '$| = 1;\nprint "hello from execbox\\n";\nwhile (my $line = <STDIN>) {\n    chomp $line;\n    print "you said: $line\\n";\n}\n',
  php: '<?php\necho "hello from execbox\\n";\nwhile (($line = fgets(STDIN)) !== false) {\n    echo "you said: " . trim($line) . "\\n";\n}\n',
  lua: 'io.stdout:setvbuf("no")\nprint("hello from execbox")\nfor line in io.lines() do\n  print("you said: " .. line)\nend\n',
};
examples.pypy = examples.python;
examples["c-clang"] = examples.c;
examples["cpp-clang"] = examples.cpp;
examples.zsh = examples.bash;
examples.dash = examples.bash;

// example returns the starting program of a language ("" when there is none).
export function example(id) {
  return examples[id] || "";
}
