"""docs/kubernetes.md's Indexed Job, run locally: its command lines as four processes at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.shard import ENV_JOB_INDEX
from tests.cli_harness import ThreadedMock, clean_environ, run_cli, write_recipients
from tests.cli_harness import command as python_m
from tests.results_file import read_results

MANIFEST = Path(__file__).parents[2] / "docs" / "kubernetes.md"
RECORDS = 40_000
RUN_TIMEOUT_S = 120.0
#: The report's figures that one run over the whole input must show too.
SUMMED = (
    "records",
    "lines",
    "by_status",
    "groups",
    "rejected_by_field",
    "failed_by_reason",
    "superseded_lines",
)


def _manifest() -> tuple[list[str], list[str], int]:
    """The Job's container ``command`` and ``args`` and its ``completions``, read from the docs."""
    text = MANIFEST.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None, "no yaml block in docs/kubernetes.md"
    yaml = block.group(1)

    def field(name: str) -> Any:
        found = re.search(rf"^\s*{name}: (.+?)\s*(#.*)?$", yaml, re.MULTILINE)
        assert found is not None, name
        return _json.loads(found.group(1))  # a flow sequence of double-quoted strings is JSON

    completions, parallelism = field("completions"), field("parallelism")
    assert completions == parallelism
    assert re.search(r"^\s*completionMode: Indexed$", yaml, re.MULTILINE)
    return field("command"), field("args"), completions


def _local(args: list[str], root: Path, index: int) -> list[str]:
    """The pod's paths on this machine: the input volume, and this index's directory of results."""
    mounts = {"/input/": f"{root / 'input'}/", "/results/": f"{root / f'shard-{index}'}/"}
    return [next((local + a[len(m) :] for m, local in mounts.items() if a.startswith(m)), a) for a in args]


def _start(
    command: list[str], args: list[str], root: Path, index: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    (root / f"shard-{index}").mkdir(exist_ok=True)
    # getui-push on PATH, as in the image
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environ = clean_environ({**env, ENV_JOB_INDEX: str(index), "PATH": path})
    return subprocess.Popen(
        [*command, *_local(args, root, index)], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _finish(procs: list[subprocess.Popen[bytes]]) -> None:
    """Wait for every pod (bounded); each must exit 0, as the Job needs to complete its index."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err


def _report(*paths: Path) -> dict[str, Any]:
    result = run_cli("report", *paths, "--json")
    assert result.code == 0, result.err
    return _json.loads(result.out)  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_manifest_sends_every_cid_once_as_four_shards_at_once(tmp_path):
    """Four pods at once: every cid delivered once, the four files hold the input, report sums the run."""
    command, args, completions = _manifest()
    assert completions == 4
    assert f"auto/{completions}" in args
    assert "--resume" in args  # a first run starts afresh; a restart continues
    (tmp_path / "input").mkdir()
    recipients = write_recipients(tmp_path / "input" / "recipients.csv", RECORDS)
    cids = {f"{i:032x}" for i in range(RECORDS)}
    with ThreadedMock() as served:
        _finish([_start(command, args, tmp_path, i, served.env) for i in range(completions)])
        assert served.deliveries() == dict.fromkeys(cids, 1)
        sent = served.pushes()
        _finish([_start(command, args, tmp_path, 2, served.env)])  # a pod started again: nothing re-sent
        assert served.pushes() == sent
    files = [tmp_path / f"shard-{i}" / f"results-{i}.jsonl" for i in range(completions)]
    lines = [line for path in files for line in read_results(path)]
    assert sorted(line["record"] for line in lines) == list(range(1, RECORDS + 1))
    assert {line["cid"] for line in lines} == cids
    whole = tmp_path / "whole.jsonl"
    title, body = args[args.index("--title") + 1], args[args.index("--body") + 1]
    with ThreadedMock() as served:  # a process of its own: the mock keeps this one's interpreter
        argv = ("send", recipients, "--out", whole, "--title", title, "--body", body, "--no-progress")
        done = subprocess.run(
            python_m(*argv),
            env=clean_environ(served.env),
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
    together, alone = _report(*files), _report(whole)
    assert {k: together[k] for k in SUMMED} == {k: alone[k] for k in SUMMED}
    assert together["shards"]["missing"] == []
