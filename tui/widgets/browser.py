"""The problem browser: a search box over a tree of problems grouped by level or by tag."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Tree

from ..catalog import ProblemInfo, group_by_level, group_by_tag


class SearchBox(Input):
    BINDINGS = [Binding("down", "to_results", "To the results", show=False)]

    def action_to_results(self) -> None:
        self.query_ancestor(ProblemBrowser).to_best_hit()


class ProblemTree(Tree[ProblemInfo]):
    BINDINGS = [Binding("g", "toggle_grouping", "Group", tooltip="Group by level or by tag")]

    def action_toggle_grouping(self) -> None:
        browser = self.query_ancestor(ProblemBrowser)
        browser.grouping = "tag" if browser.grouping == "level" else "level"

    # Up and down step over the group headers: each stop is a problem to preview (shift+left reaches a header).
    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def _step(self, direction: int) -> None:
        line = self.cursor_line
        while True:
            line += direction
            node = self.get_node_at_line(line) if line >= 0 else None
            if node is None:
                return
            if node.data is not None:
                self.move_cursor(node)
                return


class ProblemBrowser(Vertical):
    """Posts Highlighted when the cursor rests on a problem, Opened on enter or click."""

    grouping: reactive[str] = reactive("level")

    class Highlighted(Message):
        def __init__(self, problem: ProblemInfo) -> None:
            super().__init__()
            self.problem = problem

    class Opened(Message):
        def __init__(self, problem: ProblemInfo) -> None:
            super().__init__()
            self.problem = problem

    def __init__(self, problems: list[ProblemInfo], **kwargs) -> None:
        super().__init__(**kwargs)
        self.problems = problems
        self.badges: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield SearchBox(placeholder="search: name, tag, level1, cpu…", id="search")
        yield Label("", id="browser-hint")
        tree: ProblemTree = ProblemTree("problems", id="problem-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree

    def on_mount(self) -> None:
        self.rebuild()

    def watch_grouping(self) -> None:
        if self.is_mounted:
            self.rebuild()

    @on(Input.Changed, "#search")
    def _search(self) -> None:
        self.rebuild()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.to_best_hit()

    def to_best_hit(self) -> None:
        """Enter or Down in the search box: to the tree, on the best hit of the query (the first with none)."""
        tree = self.query_one(ProblemTree)
        query = self.query_one("#search", Input).value.strip()
        leaves = [n for n in _walk(tree.root) if n.data is not None]
        best = max(leaves, key=lambda n: n.data.match_score(query) or 0, default=None) if query else \
            next(iter(leaves), None)
        tree.focus()
        if best is not None:
            tree.move_cursor(best)

    def set_badge(self, name: str, badge: Text | None) -> None:
        if badge is None:
            self.badges.pop(name, None)
        else:
            self.badges[name] = badge
        tree = self.query_one(ProblemTree)
        for node in _walk(tree.root):
            if node.data is not None and node.data.name == name:
                node.set_label(self._label(node.data))

    def _label(self, p: ProblemInfo) -> Text:
        t = Text(p.name)
        if p.device == "cpu":
            t.append(" cpu", style="dim cyan")
        if p.name in self.badges:
            t.append(" ")
            t.append_text(self.badges[p.name])
        return t

    def rebuild(self) -> None:
        query = self.query_one("#search", Input).value.strip()
        tree = self.query_one(ProblemTree)
        selected = tree.cursor_node.data.name if tree.cursor_node is not None and tree.cursor_node.data else None
        scores = {p.name: p.match_score(query) for p in self.problems} if query else {}
        # Within each group the best matches come first; max() in to_best_hit keeps the first of equals.
        items = sorted((p for p in self.problems if not query or scores[p.name] is not None),
                       key=lambda p: -scores[p.name] if query else 0)
        groups = group_by_level(items) if self.grouping == "level" else group_by_tag(items)
        tree.clear()
        restore = None
        for group, members in groups.items():
            g = tree.root.add(Text.assemble((group, "bold"), (f"  {len(members)}", "dim")), expand=True)
            for p in members:
                node = g.add_leaf(self._label(p), data=p)
                if p.name == selected and restore is None:
                    restore = node
        hint = f"{len(items)} of {len(self.problems)} · g: group by {'tag' if self.grouping == 'level' else 'level'}"
        self.query_one("#browser-hint", Label).update(Text(hint, style="dim"))
        if restore is not None:
            self.call_after_refresh(tree.move_cursor, restore)

    def select(self, name: str) -> bool:
        tree = self.query_one(ProblemTree)
        for node in _walk(tree.root):
            if node.data is not None and node.data.name == name:
                tree.move_cursor(node)
                return True
        return False

    @on(Tree.NodeHighlighted, "#problem-tree")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Highlighted(event.node.data))

    @on(Tree.NodeSelected, "#problem-tree")
    def _selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Opened(event.node.data))


def _walk(node):
    for child in node.children:
        yield child
        yield from _walk(child)
