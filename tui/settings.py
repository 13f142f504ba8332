"""User settings of the TUI: a pydantic model stored as JSON in the user's config folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError

from grader.models import GradeOptions

CONFIG_ENV = "KERNEL_TUI_CONFIG"


def default_config_path() -> Path:
    """$KERNEL_TUI_CONFIG, else $XDG_CONFIG_HOME/kernel-tui/settings.json (~/.config by default)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "kernel-tui" / "settings.json"


Device = Literal["auto", "cuda", "cpu"]


class Settings(GradeOptions):
    """What the Settings screen edits: every option of a grading (GradeOptions, with the CLI's defaults)
    and the TUI's own."""

    model_config = ConfigDict(extra="ignore")
    device: Device = Field("auto", description="auto: the problem's device, "  # type: ignore[assignment]
                                                                       "CUDA when a GPU is visible")
    workspace: str = Field("workspace", description="folder of your solutions and attempt history "
                                                    "(relative to where kernel-tui starts)")
    autosave: bool = Field(True, description="save the editor to the workspace as you type")
    show_reference_solutions: bool = Field(False, description="offer the bundled reference solutions "
                                                              "(solutions/) in the command palette")
    theme: str = Field("textual-dark", description="Textual theme")

    def workspace_path(self, base: Path | None = None) -> Path:
        p = Path(self.workspace).expanduser()
        return p if p.is_absolute() else (base or Path.cwd()) / p


def load_settings(path: Path) -> tuple[Settings, str]:
    """(settings, warning). A missing file gives the defaults; a broken one gives the defaults and says so."""
    if not path.is_file():
        return Settings(), ""
    try:
        return Settings.model_validate_json(path.read_text()), ""
    except (ValidationError, OSError, ValueError) as e:
        return Settings(), f"{path}: unreadable settings, using defaults ({str(e).splitlines()[0]})"


def save_settings(settings: Settings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(settings.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)
