"""bench/library.py without a GPU: --merge joins rows of earlier runs, prints the levels 1-2 median speedup
and --write-doc puts the table between a document's LIBRARY-TABLE markers (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

from kgtest import ROOT, grader_env

SCRIPT = ROOT / "bench" / "library.py"


def row(problem: str, level: int, speedup: float, verdict: str = "passed") -> dict:
    return {"problem": problem, "level": level, "verdict": verdict, "speedup": speedup, "speedup_compile": None,
            "runtime_ms": 0.2, "eager_ms": 0.2 * speedup, "roofline": 0.8, "tflops": 1.0, "gbps": 3000.0,
            "flags": [], "device": "NVIDIA H200", "torch": "2.11.0", "message": "ok", "seconds": 9.0}


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          env=grader_env(), timeout=300)


def test_merge_writes_the_table_into_the_doc(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([row("relu", 1, 0.9), row("saxpy", 1, 1.6)]))
    b.write_text(json.dumps([row("adam_step", 2, 3.0), row("mlp_block", 3, 0.1), row("swiglu", 2, 0.5, "failed")]))
    doc = tmp_path / "problems.md"
    doc.write_text("intro\n<!-- LIBRARY-TABLE: from real runs -->\nold table\n<!-- /LIBRARY-TABLE -->\ntail\n")
    p = bench(str(tmp_path / "ALL.md"), "--merge", str(a), str(b), "--write-doc", str(doc))
    assert p.returncode == 0, p.stderr
    # levels 1-2, passed only: 0.9, 1.6, 3.0 -> median 1.6, two at or above 1.0x
    assert "median speedup vs eager 1.60x over 3 passed solutions, 2 at or above 1.0x" in p.stdout
    text = doc.read_text()
    assert "old table" not in text and text.startswith("intro\n<!-- LIBRARY-TABLE: from real runs -->\n")
    assert text.endswith("<!-- /LIBRARY-TABLE -->\ntail\n")
    assert "| saxpy | 1 | passed | 1.60x |" in text and "| mlp_block | 3 |" in text
    assert "- `swiglu`: failed: ok" in text
    assert json.loads((tmp_path / "ALL.json").read_text())[0]["problem"] == "relu"


def test_write_doc_without_markers_names_the_fix(tmp_path):
    a = tmp_path / "a.json"
    a.write_text(json.dumps([row("relu", 1, 1.0)]))
    doc = tmp_path / "plain.md"
    doc.write_text("no markers here\n")
    p = bench(str(tmp_path / "ALL.md"), "--merge", str(a), "--write-doc", str(doc))
    assert p.returncode != 0
    assert f"{doc}: no '<!-- LIBRARY-TABLE" in p.stderr and "add them where the table belongs" in p.stderr
    assert "Traceback" not in p.stderr
    assert doc.read_text() == "no markers here\n"
