#!/usr/bin/env python3
"""The code-shape guardrails of docs/DEVELOPMENT.md, checked on the tree:

  1. the core/io boundary: no file under src/core includes a libuv,
     libwebsockets or hiredis header (core is pure: time is a parameter,
     I/O is a callback);
  2. no file under src/core over 600 lines;
  3. no function body in src/, cli/ or bench/ over 60 lines, unless the
     comment right above it says why with "(long: <why>)".

Usage: check_shape.py [repo root]: prints each violation as
path:line: what, and exits 1 when there is any.
       check_shape.py --self-test: plants one violation of each rule in a
scratch tree and fails unless all three are reported (so the check itself
cannot silently pass everything).
"""
import pathlib
import re
import sys
import tempfile

MAX_CORE_FILE_LINES = 600
MAX_FUNCTION_LINES = 60
FORBIDDEN_IN_CORE = re.compile(r'^\s*#\s*include\s*[<"](uv\.h|uv/|libwebsockets|lws|hiredis|async\.h|adapters/)')
LONG_MARK = re.compile(r'\(long: [^)]+\)')
CONTROL = re.compile(r'\b(if|for|while|switch|catch)\s*\([^;{}]*\)\s*$')
FUNCTION_HEAD = re.compile(r'\)\s*(const|noexcept|override|final|mutable|->\s*[\w:<>*&, ]+|\s)*(:\s*[^;{}]*)?$')


def blank(text):
    """`text` with comments and string/char literals replaced by spaces
    (newlines kept, so offsets and line numbers stay)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
        elif text[i] == '"' and i > 0 and text[i - 1] == 'R':
            m = re.match(r'R"([^(]*)\(', text[i - 1:])
            end = text.find(')' + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
        elif text[i] in '"\'':
            j = i + 1
            while j < n and text[j] != text[i]:
                j += 2 if text[j] == '\\' else 1
            j += 1
        else:
            out.append(text[i])
            i += 1
            continue
        out.append(re.sub(r'[^\n]', ' ', text[i:j]))
        i = j
    return ''.join(out)


def long_functions(path, text):
    """(line, name, body lines) of each outermost function body too long."""
    code = blank(text)
    lines = text.split('\n')
    stack, found = [], []
    for m in re.finditer(r'[{}]', code):
        if m.group() == '{':
            before = code[max(0, m.start() - 400):m.start()]
            is_fn = FUNCTION_HEAD.search(before) is not None and not CONTROL.search(before)
            stack.append((m.start(), is_fn and not any(f for _, f in stack)))
            continue
        if not stack:
            continue
        start, is_fn = stack.pop()
        if not is_fn:
            continue
        first = code.count('\n', 0, start) + 1
        last = code.count('\n', 0, m.start()) + 1
        if last - first - 1 <= MAX_FUNCTION_LINES:
            continue
        names = re.findall(r'([\w:~]+)\s*\(', code[max(0, start - 400):start])
        above = '\n'.join(lines[max(0, first - 12):first])
        if not LONG_MARK.search(above):
            found.append((first, names[-1] if names else '?', last - first - 1))
    return found


def check(root):
    """Every violation under `root`, one line each."""
    problems = []
    for path in sorted((root / 'src' / 'core').glob('*.[ch]pp')):
        text = path.read_text()
        rel = path.relative_to(root)
        for no, line in enumerate(text.split('\n'), 1):
            if FORBIDDEN_IN_CORE.search(line):
                problems.append(f'{rel}:{no}: core includes an I/O library header: {line.strip()}')
        count = text.count('\n')
        if count > MAX_CORE_FILE_LINES:
            problems.append(f'{rel}:1: {count} lines, over {MAX_CORE_FILE_LINES} for a core module')
    for top in ('src', 'cli', 'bench'):
        for path in sorted((root / top).rglob('*.cpp')):
            rel = path.relative_to(root)
            for first, name, size in long_functions(path, path.read_text()):
                problems.append(f'{rel}:{first}: {name}: {size} lines, over {MAX_FUNCTION_LINES} '
                                f'(split it, or say why above it with "(long: ...)")')
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / 'src' / 'core').mkdir(parents=True)
        (root / 'cli').mkdir()
        (root / 'src' / 'core' / 'a.hpp').write_text('#include <uv.h>\n' + '// line\n' * 700)
        body = ''.join(f'    x += {i};\n' for i in range(70))
        (root / 'cli' / 'b.cpp').write_text('int f(int x) {\n' + body + '    return x;\n}\n'
                                            '// (long: a table)\nint g(int x) {\n' + body + '    return x;\n}\n')
        problems = check(root)
    expected = ['core includes an I/O library header', 'over 600 for a core module', 'f: 71 lines']
    missing = [e for e in expected if not any(e in p for p in problems)]
    if missing or len(problems) != 3:
        print('check_shape self-test failed: missing', missing, 'got', problems)
        return 1
    print('check_shape self-test: the three planted violations were found, the marked function was not')
    return 0


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    problems = check(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve())
    for p in problems:
        print(p)
    print(f'check_shape: {len(problems)} problem(s)')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
