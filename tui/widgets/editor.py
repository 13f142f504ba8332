"""The solution editor: a Python TextArea that also highlights the C++/CUDA inside inline source strings.

Textual's TextArea highlights one language with one tree-sitter query. For the C++/CUDA that a
solution keeps in triple-quoted strings, this editor finds those strings in the Python syntax tree,
parses their contents with the CUDA grammar (tree-sitter-cuda, else tree-sitter-cpp) and lays those
highlights over the string's own, after TextArea builds its map. Without those packages it is a
plain Python editor.
"""

from __future__ import annotations

import re

from textual.widgets import TextArea

try:
    from tree_sitter import Language, Parser, Query, QueryCursor
except ImportError:  # pragma: no cover - textual works without tree-sitter, so must we
    Language = Parser = Query = QueryCursor = None  # type: ignore[assignment,misc]

# One pattern per entry: patterns a grammar does not know are dropped one by one, so a grammar
# release that renames a node costs that highlight, not all of them.
CPP_PATTERNS = [
    "(comment) @comment",
    "(string_literal) @string",
    "(raw_string_literal) @string",
    "(char_literal) @string",
    "(system_lib_string) @string",
    "(number_literal) @number",
    "(true) @boolean",
    "(false) @boolean",
    "(null) @constant.builtin",
    "(this) @variable.builtin",
    "(primitive_type) @type.builtin",
    "(sized_type_specifier) @type.builtin",
    "(type_identifier) @type",
    "(namespace_identifier) @type",
    "(preproc_directive) @include",
    '["#include" "#define" "#if" "#ifdef" "#ifndef" "#else" "#elif" "#endif"] @include',
    "(preproc_def name: (identifier) @constant.builtin)",
    "(preproc_function_def name: (identifier) @function)",
    "(function_declarator declarator: (identifier) @function)",
    "(function_declarator declarator: (qualified_identifier name: (identifier) @function))",
    "(call_expression function: (identifier) @function.call)",
    "(call_expression function: (qualified_identifier name: (identifier) @function.call))",
    "(call_expression function: (field_expression field: (field_identifier) @method.call))",
    "(template_function name: (identifier) @function.call)",
    '["if" "else" "switch" "case" "default"] @conditional',
    '["for" "while" "do" "break" "continue"] @repeat',
    '"return" @keyword.return',
    '["const" "static" "inline" "struct" "class" "typedef" "template" "typename" "using" "namespace" '
    '"auto" "volatile" "extern" "constexpr" "enum" "union" "sizeof" "new" "delete" "public" "private" '
    '"protected" "virtual" "override" "noexcept" "goto"] @keyword',
    '["__global__" "__device__" "__host__" "__shared__" "__constant__" "__managed__" "__forceinline__" '
    '"__noinline__" "__restrict__" "__launch_bounds__"] @keyword',
    '["<<<" ">>>"] @punctuation.special',
    '["+" "-" "*" "/" "%" "=" "==" "!=" "<" ">" "<=" ">=" "&&" "||" "!" "&" "|" "^" "~" "<<" ">>" '
    '"+=" "-=" "*=" "/=" "++" "--" "->" "::" "?"] @operator',
    '["(" ")" "[" "]" "{" "}"] @punctuation.bracket',
    '[";" "," "."] @punctuation.delimiter',
]

# A Python string is taken for C++/CUDA when it holds one of these, or when it is assigned to a name like these.
CODE_MARKERS = ("#include", "__global__", "__device__", "torch::", "TORCH_CHECK", "#define", "#pragma",
                "int64_t", "cudaStream", "at::Tensor", "template <", "template<", "blockIdx", "threadIdx")
SOURCE_NAME = re.compile(r"(src|source|cpp|cuda|kernel|cu_|_cu\b|header|decl)", re.I)

_language = None
_query = None


def cuda_language():
    """The CUDA grammar (a superset of C++), else C++; None without either."""
    global _language
    if _language is None and Language is not None:
        for mod in ("tree_sitter_cuda", "tree_sitter_cpp"):
            try:
                m = __import__(mod)
                _language = Language(m.language())
                break
            except (ImportError, OSError, ValueError, AttributeError):
                continue
    return _language


def cuda_query():
    global _query
    lang = cuda_language()
    if _query is None and lang is not None:
        ok = []
        for p in CPP_PATTERNS:
            m = re.fullmatch(r'\[(.*)\] (@[\w.]+)', p)
            # A list of tokens is tried token by token: one the grammar lacks drops only itself.
            parts = [f"{tok} {m[2]}" for tok in re.findall(r'"[^"]+"', m[1])] if m else [p]
            for part in parts:
                try:
                    Query(lang, part)
                    ok.append(part)
                except Exception:  # noqa: BLE001 - QueryError for node types this grammar lacks
                    continue
        _query = Query(lang, "\n".join(ok)) if ok else None
    return _query


def inline_code_ranges(root, text_bytes: bytes) -> list[tuple[tuple[int, int], tuple[int, int], int, int]]:
    """(content start point, content end point, start byte, end byte) of Python strings that hold C++/CUDA."""
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "string":
            kids = node.children
            if len(kids) >= 2 and kids[0].type == "string_start" and kids[-1].type == "string_end":
                start, end = kids[0], kids[-1]
                if start.end_point[0] == end.start_point[0]:
                    continue   # one-line strings are left as strings
                body = text_bytes[start.end_byte:end.start_byte]
                text = body.decode("utf-8", "replace")
                named = False
                parent = node.parent
                if parent is not None and parent.type == "assignment":
                    left = parent.child_by_field_name("left")
                    named = left is not None and bool(SOURCE_NAME.search(
                        text_bytes[left.start_byte:left.end_byte].decode("utf-8", "replace")))
                if named or any(m in text for m in CODE_MARKERS):
                    out.append((start.end_point, end.start_point, start.end_byte, end.start_byte))
            continue
        stack.extend(node.children)
    return out


def _clip(entries: list, keep_from: int | None, keep_to: int | None) -> list:
    """String highlights of one row cut to [keep_from, keep_to) bytes (None: open); others untouched."""
    out = []
    for s, e, name in entries:
        if not name.startswith("string"):
            out.append((s, e, name))
            continue
        if keep_to is not None:
            if s >= keep_to:
                continue
            e = keep_to if e is None or e > keep_to else e
        if keep_from is not None:
            if e is not None and e <= keep_from:
                continue
            s = max(s, keep_from)
        out.append((s, e, name))
    return out


class KernelEditor(TextArea):
    """Python editor with C++/CUDA highlighting inside inline source strings."""

    def __init__(self, text: str = "", **kwargs) -> None:
        kwargs.setdefault("language", "python")
        kwargs.setdefault("show_line_numbers", True)
        kwargs.setdefault("tab_behavior", "indent")
        kwargs.setdefault("soft_wrap", False)
        self._parser = Parser(cuda_language()) if cuda_language() is not None else None
        self.inline_regions: list[tuple[int, int]] = []   # (first row, last row) of each C++/CUDA string
        super().__init__(text, **kwargs)

    def _build_highlight_map(self) -> None:
        super()._build_highlight_map()
        self.inline_regions = []
        if self._parser is None or cuda_query() is None:
            return
        tree = getattr(self.document, "_syntax_tree", None)
        if tree is None:
            return
        try:
            self._inject(tree)
        except Exception:  # noqa: BLE001 - highlighting must never break editing
            self.log.warning("inline C++ highlighting failed")

    def _inject(self, tree) -> None:
        text_bytes = self.text.encode("utf-8")
        highlights = self._highlights
        for (srow, scol), (erow, ecol), sbyte, ebyte in inline_code_ranges(tree.root_node, text_bytes):
            self.inline_regions.append((srow, erow))
            # The string's own highlight keeps only its quotes.
            highlights[srow] = _clip(highlights[srow], None, scol)
            for row in range(srow + 1, erow):
                highlights[row] = [h for h in highlights[row] if not h[2].startswith("string")]
            highlights[erow] = _clip(highlights[erow], ecol, None)
            sub = self._parser.parse(text_bytes[sbyte:ebyte])
            captures = QueryCursor(cuda_query()).captures(sub.root_node)
            for name, nodes in captures.items():
                for node in nodes:
                    (r0, c0), (r1, c1) = node.start_point, node.end_point
                    a_row, a_col = srow + r0, (scol + c0) if r0 == 0 else c0
                    b_row, b_col = srow + r1, (scol + c1) if r1 == 0 else c1
                    if a_row == b_row:
                        highlights[a_row].append((a_col, b_col, name))
                    else:
                        highlights[a_row].append((a_col, None, name))
                        for row in range(a_row + 1, b_row):
                            highlights[row].append((0, None, name))
                        highlights[b_row].append((0, b_col, name))

    def go_to(self, line: int, col: int | None = None) -> None:
        """Put the cursor on a 1-based line and column and scroll it to the middle."""
        row = max(0, min(line - 1, self.document.line_count - 1))
        text = self.document.get_line(row)
        column = max(0, min((col or 1) - 1, len(text)))
        self.move_cursor((row, column), center=True)
        self.focus()
