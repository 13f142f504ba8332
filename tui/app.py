"""kernel-tui: write, compile-check and grade KernelBench `ModelNew` solutions in the terminal.

    kernel-tui                       # browse problems; workspace/ in the current folder
    kernel-tui --problem cpu_softmax # open one straight away
    textual serve "kernel-tui"       # the same app in a browser
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import get_args

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.screen import Screen

import sandbox

from .catalog import ProblemInfo, load_catalog
from .describer import Describer
from .grading import NO_GPU_HELP, GpuInfo, detect_gpu
from .screens.main import MainScreen
from .screens.settings import SettingsScreen
from .settings import Device, Settings, default_config_path, load_settings, save_settings
from .workspace import Workspace


class ProblemCommands(Provider):
    """'open relu', 'open cpu_softmax'… in the command palette."""

    async def search(self, query: str) -> Hits:
        app = self.app
        matcher = self.matcher(query)
        for p in app.catalog:
            text = f"open {p.name}"
            score = matcher.match(f"{text} {' '.join(p.tags)}")
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.open_problem, p.name),
                          help=f"{p.group()} · {', '.join(p.tags)}")

    async def discover(self) -> Hits:
        for p in self.app.catalog[:20]:
            yield Hit(1, f"open {p.name}", partial(self.app.open_problem, p.name), help=p.group())


class KernelTUI(App):
    CSS_PATH = "app.tcss"
    TITLE = "kernel-tui"
    SUB_TITLE = "write · check · grade kernels"
    COMMANDS = App.COMMANDS | {ProblemCommands}
    BINDINGS = [Binding("f1", "help", "Keys", priority=True, tooltip="The keys of the focused widget")]
    probe_sandboxes = True   # the Settings screen asks each sandbox backend whether it can run here

    def __init__(self, *, config_path: Path | None = None, settings: Settings | None = None,
                 open_problem: str | None = None, gpu: GpuInfo | None = None, persist_settings: bool = True,
                 base_dir: Path | None = None) -> None:
        super().__init__()
        self.config_path = config_path or default_config_path()
        warning = ""
        if settings is None:
            settings, warning = load_settings(self.config_path)
        self.settings = settings
        self.persist_settings = persist_settings
        self.base_dir = (base_dir or Path.cwd()).resolve()
        self.workspace = Workspace(settings.workspace_path(self.base_dir))
        self.catalog: list[ProblemInfo] = load_catalog(settings.problems_dir)
        self.gpu: GpuInfo | None = gpu
        self.describer = Describer()     # input shapes for the preview, from one child process
        self._detect_gpu = gpu is None
        self._initial_problem = open_problem
        self._startup_warning = warning
        if settings.theme in self.available_themes:
            self.theme = settings.theme

    def get_default_screen(self) -> Screen:
        return MainScreen()

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def on_mount(self) -> None:
        if self._startup_warning:
            self.notify(self._startup_warning, severity="warning", timeout=10)
        if self._detect_gpu:
            self.find_gpu()
        else:
            self._gpu_known()
        if self._initial_problem:
            self.call_after_refresh(self.open_problem, self._initial_problem)
        self.start_describer()

    @work(thread=True, exclusive=True, group="describer-start", exit_on_error=False)
    def start_describer(self) -> None:
        self.describer.start()

    def on_unmount(self) -> None:
        self.describer.close()

    @work(thread=True, exclusive=True, group="gpu", exit_on_error=False)
    def find_gpu(self) -> None:
        info = detect_gpu()
        self.call_from_thread(self._set_gpu, info)

    def _set_gpu(self, info: GpuInfo) -> None:
        self.gpu = info
        self._gpu_known()
        if not info.available:
            self.notify(NO_GPU_HELP + (f" ({info.note})" if info.note else ""), title="No GPU", timeout=8)

    def _gpu_known(self) -> None:
        try:
            self.main.update_status()
        except Exception:  # noqa: BLE001 - screen not there yet
            pass

    def watch_theme(self, theme: str) -> None:
        if self.settings.theme != theme:
            self.settings = self.settings.model_copy(update={"theme": theme})
            self._persist()

    # ------------------------------------------------------------ actions

    def open_problem(self, name: str) -> None:
        self.main.open_by_name(name)

    def action_settings(self) -> None:
        def done(new: Settings | None) -> None:
            if new is not None:
                self.apply_settings(new)

        self.push_screen(SettingsScreen(self.settings), done)

    def apply_settings(self, new: Settings) -> None:
        main = self.main
        main.save_now()
        old = self.settings
        self.settings = new
        self._persist()
        if new.workspace_path(self.base_dir) != self.workspace.root:
            self.workspace = Workspace(new.workspace_path(self.base_dir))
            if main.problem is not None:
                main.open_problem(main.problem)
            main.refresh_badges()
        if new.problems_dir != old.problems_dir:
            self.notify("Restart kernel-tui to list the problems of the new folder", timeout=5)
        main.update_status()
        self.notify("Settings saved", timeout=2)

    def _persist(self) -> None:
        if self.persist_settings:
            try:
                save_settings(self.settings, self.config_path)
            except OSError as e:
                self.notify(f"Could not save settings: {e}", severity="error")

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_quit(self) -> None:
        main = self.main
        main.save_now()
        if main.busy:
            main.stop_all()
            self.notify("Stopping the grading before quitting…", timeout=3)
            await main.wait_idle()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Submit", "Grade the editor's solution (ctrl+r)", main.action_submit)
        yield SystemCommand("Compile check", "Compile the inline C++/CUDA only; runs nothing (ctrl+t)",
                            main.action_check)
        yield SystemCommand("Cancel", "Stop the running grading or check (ctrl+g)", main.action_cancel)
        yield SystemCommand("Next compile error", "Jump the editor to the next error (F8)", main.action_next_error)
        yield SystemCommand("Settings", "Sandbox, device, timeouts, workspace (F6)", self.action_settings)
        yield SystemCommand("Problem tab", "Reference source, shapes and floors (F2)",
                            partial(main.action_tab, "problem"))
        yield SystemCommand("Editor tab", "Your ModelNew and the grading panel (F3)",
                            partial(main.action_tab, "solution"))
        yield SystemCommand("History tab", "Every attempt, speedups and diffs (F4)",
                            partial(main.action_tab, "history"))
        yield SystemCommand("Profile tab", "Nsight Compute per kernel of the last profiled grading (F5)",
                            partial(main.action_tab, "profile"))
        yield SystemCommand("Toggle sidebar", "Show or hide the problem browser (F7)", main.action_toggle_sidebar)
        if self.settings.show_reference_solutions and main.problem is not None:
            yield SystemCommand("Load reference solution", "Replace the editor with solutions/… (a .bak is kept)",
                                main.load_reference)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kernel-tui", description="Write, compile-check and grade KernelBench "
                                "ModelNew solutions in the terminal.")
    p.add_argument("--problem", help="open this problem at start (bundled name or one of --problems-dir)")
    p.add_argument("--workspace", help="folder for your solutions and history (default: ./workspace)")
    p.add_argument("--problems-dir", help="extra folder of KernelBench-format problems")
    p.add_argument("--device", choices=get_args(Device), help="grade on this device")
    p.add_argument("--sandbox", choices=sandbox.CHOICES, help="worker isolation")
    p.add_argument("--config", type=Path, help=f"settings file (default {default_config_path()})")
    p.add_argument("--serve", action="store_true", help="serve the app to a web browser instead "
                   "(needs `pip install textual-serve`); every browser tab runs its own kernel-tui")
    p.add_argument("--host", default="localhost", help="with --serve: address to listen on (default localhost)")
    p.add_argument("--port", type=int, default=8000, help="with --serve: port (default 8000)")
    return p


def serve(argv: list[str], host: str, port: int) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        print("kernel-tui: error: --serve needs textual-serve: pip install textual-serve", file=sys.stderr)
        return 2
    import shlex

    rest = [a for a in argv if a != "--serve"]
    for flag in ("--host", "--port"):   # the served app does not take these
        while flag in rest:
            i = rest.index(flag)
            del rest[i:i + 2]
    command = " ".join(shlex.quote(x) for x in [sys.executable, "-m", "tui", *rest])
    Server(command, host=host, port=port, title="kernel-tui").serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve:
        return serve(list(sys.argv[1:] if argv is None else argv), args.host, args.port)
    config = args.config or default_config_path()
    settings, warning = load_settings(config)
    overrides = {k: v for k, v in (("workspace", args.workspace), ("problems_dir", args.problems_dir),
                                   ("device", args.device), ("sandbox", args.sandbox)) if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    if args.problems_dir and not Path(args.problems_dir).is_dir():
        print(f"kernel-tui: error: {args.problems_dir}: not a folder", file=sys.stderr)
        return 2
    app = KernelTUI(config_path=config, settings=settings, open_problem=args.problem)
    app._startup_warning = warning
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
