"""Settings: sandbox, device, timeouts and the rest, each with its default shown."""

from __future__ import annotations

import typing

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, Switch

import sandbox
from grader.models import GradeOptions, Timeouts

from ..settings import Device, Settings

DEFAULTS = Settings()
TIMEOUT_DEFAULTS = Timeouts()


PRECISIONS = typing.get_args(typing.get_args(GradeOptions.model_fields["precision"].annotation)[0])
# Inputs whose id is not the option's name (the timeouts are one nested option)
TIMEOUT_INPUTS = {"t_compile": "compile", "t_correct": "correctness", "t_timing": "timing"}


def _mb(value: int | None) -> str:
    return "" if value is None else str(value)


def _row(label: str, widget, hint: str) -> Horizontal:
    return Horizontal(Label(label, classes="setting-label"), widget, Static(Text(hint, style="dim"),
                                                                          classes="setting-hint"),
                      classes="setting-row")


class SettingsScreen(ModalScreen[Settings | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save", priority=True)]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        s = self.settings
        with VerticalScroll(id="settings-box") as box:
            box.border_title = "Settings"
            box.border_subtitle = "ctrl+s save · esc cancel"
            yield _row("workspace", Input(s.workspace, id="workspace"),
                       f"default {DEFAULTS.workspace}/ — your solutions and history, one file per problem")
            yield _row("problems dir", Input(s.problems_dir or "", placeholder="none", id="problems_dir"),
                       "default none — extra folder of KernelBench problems (restart to list them)")
            yield _row("sandbox", Select([(x, x) for x in sandbox.CHOICES], value=s.sandbox,
                                         allow_blank=False, id="sandbox"),
                       f"default {DEFAULTS.sandbox} — docker when its engine and image are there, else local")
            yield Static("", id="sandbox-status", classes="setting-note")
            yield _row("device", Select([(x, x) for x in typing.get_args(Device)], value=s.device,
                                        allow_blank=False, id="device"),
                       f"default {DEFAULTS.device} — the problem's device; CUDA when a GPU is visible")
            yield _row("compile timeout", Input(f"{s.timeouts.compile:g}", type="number", id="t_compile"),
                       f"default {TIMEOUT_DEFAULTS.compile:g} s")
            yield _row("correctness timeout", Input(f"{s.timeouts.correctness:g}", type="number", id="t_correct"),
                       f"default {TIMEOUT_DEFAULTS.correctness:g} s")
            yield _row("timing timeout", Input(f"{s.timeouts.timing:g}", type="number", id="t_timing"),
                       f"default {TIMEOUT_DEFAULTS.timing:g} s")
            yield _row("trials", Input(str(s.trials), type="integer", id="trials"),
                       f"default {DEFAULTS.trials} — correctness trials on fresh random inputs")
            yield _row("timing cap", Input(f"{s.max_timing_s:g}", type="number", id="max_timing_s"),
                       f"default {DEFAULTS.max_timing_s:g} s — per timing loop")
            yield _row("torch.compile baseline", Switch(s.baseline_compile, id="baseline_compile"),
                       "default on — also time torch.compile of the reference")
            yield _row("strict", Switch(s.strict, id="strict"),
                       "default off — refuse solutions that launch no custom kernel")
            yield _row("precision", Select([(x, x) for x in PRECISIONS], value=s.precision or Select.NULL,
                                           prompt="as written", id="precision"),
                       "default as written — grade a variant of the problem in this dtype")
            yield _row("CPU threads", Input(str(s.cpu_threads), type="integer", id="cpu_threads"),
                       f"default {DEFAULTS.cpu_threads} — CPU gradings: threads (and cores) both sides run on")
            yield _row("memory limit", Input(_mb(s.memory_limit_mb), type="integer", placeholder="sized",
                                             id="memory_limit_mb"),
                       "default sized from the problem — host memory cap of each worker, MiB")
            yield _row("GPU memory limit", Input(_mb(s.gpu_memory_limit_mb), type="integer", placeholder="sized",
                                                 id="gpu_memory_limit_mb"),
                       "default sized from the problem — GPU memory cap of each worker, MiB")
            yield _row("profile", Switch(s.profile, id="profile"),
                       "default off — Nsight Compute per kernel after a passing CUDA grading (F5 tab)")
            yield _row("autosave", Switch(s.autosave, id="autosave"),
                       "default on — save the editor to the workspace as you type")
            yield _row("reference solutions", Switch(s.show_reference_solutions, id="show_reference_solutions"),
                       "default off — offer solutions/ in the command palette (spoilers)")
            with Horizontal(id="settings-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Defaults", id="defaults")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if getattr(self.app, "probe_sandboxes", True):
            self.check_sandboxes()

    @work(thread=True, exclusive=True, group="sandbox-probe")
    def check_sandboxes(self) -> None:
        try:
            parts = []
            for name, cls in sandbox.BACKENDS.items():
                ok, why = cls.available()
                parts.append(f"{name}: " + ("available" if ok else f"not available ({why})"))
            text = " · ".join(parts)
        except Exception as e:  # noqa: BLE001 - only informative
            text = f"could not probe sandboxes: {e}"
        self.app.call_from_thread(self.query_one("#sandbox-status", Static).update, Text(text, style="dim"))

    def _collect(self) -> Settings:
        v = {w.id: w.value for w in self.query(Input)}
        data = self.settings.model_dump()

        def num(key, cast=float):
            try:
                return cast(v[key])
            except (TypeError, ValueError):
                raise ValueError(f"{key.replace('t_', '').replace('_', ' ')}: not a number: {v[key]!r}") from None

        data.update(workspace=v["workspace"].strip() or DEFAULTS.workspace,
                    problems_dir=v["problems_dir"].strip() or None,
                    sandbox=self.query_one("#sandbox", Select).value,
                    device=self.query_one("#device", Select).value,
                    timeouts={"compile": num("t_compile"), "correctness": num("t_correct"),
                              "timing": num("t_timing")},
                    trials=num("trials", int), max_timing_s=num("max_timing_s"), cpu_threads=num("cpu_threads", int),
                    memory_limit_mb=num("memory_limit_mb", int) if v["memory_limit_mb"].strip() else None,
                    gpu_memory_limit_mb=num("gpu_memory_limit_mb", int) if v["gpu_memory_limit_mb"].strip() else None)
        precision = self.query_one("#precision", Select).value
        data["precision"] = None if precision is Select.NULL else precision
        for sw in self.query(Switch):
            data[str(sw.id)] = sw.value
        return Settings.model_validate(data)

    def action_save(self) -> None:
        try:
            settings = self._collect()
        except (ValidationError, ValueError) as e:
            msg = e.errors()[0] if isinstance(e, ValidationError) else None
            text = f"{'.'.join(map(str, msg['loc']))}: {msg['msg']}" if msg else str(e)
            self.notify(text, title="Not saved", severity="error")
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#defaults")
    def _defaults(self) -> None:
        d = Settings(theme=self.settings.theme)
        values = {"workspace": d.workspace, "problems_dir": "", "t_compile": f"{d.timeouts.compile:g}",
                  "t_correct": f"{d.timeouts.correctness:g}", "t_timing": f"{d.timeouts.timing:g}",
                  "trials": str(d.trials), "max_timing_s": f"{d.max_timing_s:g}", "cpu_threads": str(d.cpu_threads),
                  "memory_limit_mb": _mb(d.memory_limit_mb), "gpu_memory_limit_mb": _mb(d.gpu_memory_limit_mb)}
        for w in self.query(Input):
            w.value = values[str(w.id)]
        self.query_one("#sandbox", Select).value = d.sandbox
        self.query_one("#device", Select).value = d.device
        self.query_one("#precision", Select).value = d.precision or Select.NULL
        for sw in self.query(Switch):
            sw.value = getattr(d, str(sw.id))
