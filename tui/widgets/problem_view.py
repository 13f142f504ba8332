"""What a problem asks: metadata, input shapes and dtypes, the work floor, and the reference source."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from grader.cli.display import count_text

from ..catalog import ProblemInfo
from ..describer import Inputs, tensor_bytes
from .plain import plain_text


class ProblemView(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.problem: ProblemInfo | None = None
        self.inputs: Inputs | None = None
        self._info: Group | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Pick a problem on the left: arrows to browse, enter to open it in the editor.",
                          style="dim"), id="problem-info")
        ref = TextArea("", language="python", read_only=True, show_line_numbers=True, id="reference",
                       soft_wrap=False)
        ref.border_title = "reference Model"
        yield ref

    def show(self, problem: ProblemInfo, inputs: Inputs | None = None) -> None:
        self.problem, self.inputs = problem, inputs
        try:
            source = problem.path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            source = f"# cannot read {problem.path}: {e}"
        ref = self.query_one("#reference", TextArea)
        if ref.text != source:
            ref.load_text(source)
        ref.border_title = f"reference Model · {problem.path.name}"
        self._render_info()

    def set_inputs(self, problem: ProblemInfo, inputs: Inputs) -> None:
        if self.problem is not None and self.problem.name == problem.name:
            self.inputs = inputs
            self._render_info()

    def _render_info(self) -> None:
        p = self.problem
        if p is None:
            return
        head = Text.assemble((p.name, "bold"), "  ", (p.group(), "cyan"))
        if p.difficulty:
            head.append(f"  · {p.difficulty}", style="dim")
        head.append(f"  · runs on {p.device if p.device != 'any' else 'cuda or cpu'}", style="magenta")
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        if p.description:
            t.add_row("about", p.description)
        if p.tags:
            t.add_row("tags", ", ".join(p.tags))
        if p.meta is not None:
            tol = []
            if p.meta.atol is not None:
                tol.append(f"atol {p.meta.atol:g}")
            if p.meta.rtol is not None:
                tol.append(f"rtol {p.meta.rtol:g}")
            t.add_row("dtype", p.meta.dtype + (f"  ({', '.join(tol)})" if tol else ""))
        if p.error:
            t.add_row("metadata", Text(p.error, style="red"))
        if self.inputs is None:
            t.add_row("inputs", Text("working out shapes…", style="dim italic"))
        else:
            ins = self.inputs
            rows = Text("\n").join(Text.assemble(f"[{i}] {d}", (f"  {_size(tensor_bytes(d))}", "dim"))
                                   for i, d in enumerate(ins.inputs))
            t.add_row("inputs", rows if ins.inputs else "—")
            if ins.init_inputs:
                t.add_row("init args", ", ".join(ins.init_inputs))
            if ins.input_bytes is not None:
                outs = f", outputs {count_text(ins.output_bytes, 'B', '—')}" if ins.output_bytes is not None else ""
                t.add_row("size", f"inputs {count_text(ins.input_bytes, 'B', '—')}{outs}")
            if ins.note:
                t.add_row("", Text(ins.note, style="yellow"))
        flops, nbytes = p.work()
        if flops is not None or nbytes is not None:
            t.add_row("work", f"{count_text(flops, 'FLOP', '—')}   min traffic {count_text(nbytes, 'B', '—')}")
            gpu = getattr(self.app, "gpu", None)
            floors = p.floors(gpu.name if gpu is not None and gpu.available else None)
            if floors:
                t.add_row("floor", "   ".join(f"{name}: {_ms(ms)}" for name, ms in floors))
        elif p.meta is not None:
            t.add_row("work", Text("no flops/min_bytes in metadata", style="dim"))
        self._info = Group(head, t)
        self.query_one("#problem-info", Static).update(self._info)

    def info_text(self, width: int = 120) -> str:
        """What the info block shows, as plain text (tests, headless runs)."""
        return plain_text(self._info, width=width)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for scale, unit in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _ms(ms: float) -> str:
    return f"{ms * 1e3:.3g} µs" if ms < 1 else f"{ms:.3g} ms"
