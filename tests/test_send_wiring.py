"""Engine wiring of reply shapes, summary fields and input checks (#10, #11, #13, #15)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from getui_async import _json, runner
from getui_async.config import CampaignSettings, Mode
from getui_async.engine import Summary, run_campaign
from getui_async.errors import MessageError, ResultsFileError
from getui_async.messages import MessageTemplate
from getui_async.progress import ProgressBar
from getui_async.summary_text import format_summary
from getui_async.transport import Response
from tests.cli_harness import run_cli, write_recipients
from tests.fakes import Call, FakeGetui, reply, settings
from tests.results_file import read_meta, read_results

PERSONAL = MessageTemplate.simple(title="Hi {name}", body="Body")
SHARED = MessageTemplate.simple(title="Hi", body="Body")
UNCONFIRMED = "Getui's reply did not confirm this recipient"
#: code-0 ``data`` of the wrong type: a string, a list, a number, a task with int statuses.
WRONG_DATA = ["ok", ["x"], 7, {"t1": 5}]


def recipients(tmp_path: Path, n: int, kind: str = "cid") -> Path:
    path = tmp_path / "in.csv"
    path.write_text(f"{kind},name\n" + "".join(f"{kind}{i:04d},N{i}\n" for i in range(n)))
    return path


def rows(out: Path) -> list[dict[str, Any]]:
    return read_results(out)


async def run(path: Path, fake: FakeGetui, out: Path, template: MessageTemplate, **opts: Any) -> Any:
    return await run_campaign(
        path, template, settings(), CampaignSettings(**opts), out=out, transport=fake.transport()
    )


@pytest.mark.parametrize("data", [*WRONG_DATA, {"t1": {"cid0000": 1}}])
async def test_an_unconfirmed_single_reply_is_accepted_not_already_taken(tmp_path: Path, data: Any) -> None:
    """A single push answered code 0 with wrong-typed data is 'accepted', said unconfirmed, not a repeat."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(data=data)
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 2), fake, out, PERSONAL, mode=Mode.SINGLE)
    assert {(r["status"], r["msg"]) for r in rows(out)} == {("accepted", UNCONFIRMED)}
    assert summary.already_taken == 0
    assert len(fake.path_calls("/push/single/cid")) == 2


async def test_an_empty_single_reply_is_still_already_taken(tmp_path: Path) -> None:
    """A single push answered code 0 with no data stays 'already taken' (a repeated request_id)."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply()
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 1), fake, out, PERSONAL, mode=Mode.SINGLE)
    assert [r["msg"] for r in rows(out)] == ["already taken by Getui (repeated request_id)"]
    assert summary.already_taken == 1


@pytest.mark.parametrize("data", WRONG_DATA)
async def test_an_unconfirmed_batch_reply_is_accepted_and_never_resent_alone(
    tmp_path: Path, data: Any
) -> None:
    """A batch answered code 0 with wrong-typed data: every recipient 'accepted' unconfirmed, none re-sent."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = lambda call: reply(data=data)
    out = tmp_path / "out.jsonl"
    summary = await run(recipients(tmp_path, 3), fake, out, PERSONAL, mode=Mode.BATCH)
    assert {(r["status"], r["msg"]) for r in rows(out)} == {("accepted", UNCONFIRMED)}
    assert summary.already_taken == 0
    assert fake.path_calls("/push/single/cid") == []


async def test_a_partly_wrong_batch_reply_settles_the_named_and_accepts_the_rest(tmp_path: Path) -> None:
    """Recipients a malformed batch reply names keep their status; the others are unconfirmed, not re-sent."""
    fake = FakeGetui()

    def batch(call: Call) -> Response:
        return reply(data={"t0": {"cid0000": "successed_online"}, "t1": {"cid0001": 3}, "t2": "x"})

    fake.routes[("POST", "/push/single/batch/cid")] = batch
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 3), fake, out, PERSONAL, mode=Mode.BATCH)
    got = {r["cid"]: (r["status"], r["msg"]) for r in rows(out)}
    assert got == {
        "cid0000": ("successed_online", ""),
        "cid0001": ("accepted", UNCONFIRMED),
        "cid0002": ("accepted", UNCONFIRMED),
    }
    assert fake.path_calls("/push/single/cid") == []


@pytest.mark.parametrize("data", [*WRONG_DATA, {"RASL-1": {"cid0000": 1, "cid0001": 2, "cid0002": 3}}])
async def test_an_unconfirmed_list_reply_looks_recipients_up_and_says_so(tmp_path: Path, data: Any) -> None:
    """List recipients of a wrong-typed reply: user/detail fails the dead, the rest 'did not confirm'."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/list/message")] = lambda call: reply(data={"taskid": "RASL-1"})
    fake.routes[("POST", "/push/list/cid")] = lambda call: reply(data=data)
    fake.routes[("GET", "/user/detail/cid0000,cid0001,cid0002")] = lambda call: reply(
        data={"validCids": {}, "invalidCids": ["cid0001"]}
    )
    out = tmp_path / "out.jsonl"
    await run(recipients(tmp_path, 3), fake, out, SHARED, mode=Mode.LIST)
    got = {r["cid"]: (r["status"], r["msg"]) for r in rows(out)}
    assert got.pop("cid0001")[0] == "failed"
    assert got == {"cid0000": ("accepted", UNCONFIRMED), "cid0002": ("accepted", UNCONFIRMED)}
    assert len(fake.path_calls("/push/list/cid")) == 1
    assert fake.path_calls("/push/single/cid") == []


# -- #11: test sends and warnings in the summary and sidecar -----------------------------------------------

SIMPLE = ("--title", "Hello {name}", "--body", "Your offer", "--no-progress")


def test_a_test_send_is_marked_in_the_summary_and_the_sidecar(served: Any, tmp_path: Path) -> None:
    """--test: the summary text, the summary JSON and the results sidecar all say it was a test send."""
    inp, out, summary = write_recipients(tmp_path / "seeds.csv", 3), tmp_path / "r.jsonl", tmp_path / "s.json"
    result = run_cli("send", inp, "--out", out, *SIMPLE, "--test", "--summary-json", summary, env=served.env)
    assert result.code == 0, result.err
    assert "test send" in result.err
    assert _json.loads(summary.read_bytes())["test"] is True
    assert read_meta(out)["test"] is True


def test_a_real_send_is_not_marked_as_a_test(served: Any, tmp_path: Path) -> None:
    """Without --test, the summary JSON and the sidecar say test false and the text does not say test."""
    inp, out, summary = write_recipients(tmp_path / "in.csv", 2), tmp_path / "r.jsonl", tmp_path / "s.json"
    result = run_cli("send", inp, "--out", out, *SIMPLE, "--summary-json", summary, env=served.env)
    assert result.code == 0, result.err
    assert "test send" not in result.err
    assert _json.loads(summary.read_bytes())["test"] is False
    assert read_meta(out)["test"] is False


def test_vendor_warnings_are_printed_and_listed_in_the_summary_json(served: Any, tmp_path: Path) -> None:
    """A marketing send without xm_channel_id warns on stderr and lists the warning under 'warnings'."""
    inp, out, summary = write_recipients(tmp_path / "in.csv", 2), tmp_path / "r.jsonl", tmp_path / "s.json"
    for extra in ((), ("--dry-run",)):
        out.unlink(missing_ok=True)
        result = run_cli(
            "send", inp, "--out", out, *SIMPLE, *extra, "--summary-json", summary, env=served.env
        )
        assert result.code == 0, result.err
        assert "xm_channel_missing" in result.err
        codes = [w["code"] for w in _json.loads(summary.read_bytes())["warnings"]]
        assert "xm_channel_missing" in codes


def test_a_clean_send_has_an_empty_warnings_list(served: Any, tmp_path: Path) -> None:
    """With an xm_channel_id set, the summary JSON lists no xm_channel_missing warning."""
    inp, out, summary = write_recipients(tmp_path / "in.csv", 2), tmp_path / "r.jsonl", tmp_path / "s.json"
    env = {**served.env, "GETUI_XM_CHANNEL_ID": "123"}
    result = run_cli("send", inp, "--out", out, *SIMPLE, "--summary-json", summary, env=env)
    assert result.code == 0, result.err
    codes = [w["code"] for w in _json.loads(summary.read_bytes())["warnings"]]
    assert "xm_channel_missing" not in codes


# -- #15: the summary's resume advice, the progress count on a resume, the second signal ------------------


@pytest.mark.parametrize("reason", ["write_error", "input_changed"])
def test_a_stop_that_broke_the_run_makes_no_consistency_claim(reason: str) -> None:
    """After a write error or a changed input the summary does not say 'the results are consistent'."""
    summary = Summary("camp", "r.jsonl", stopped=reason, stop_detail="what happened")
    text = format_summary(summary)
    assert "consistent" not in text
    assert "resume" in text.splitlines()[-1]


def test_a_signal_stop_still_says_the_results_are_consistent() -> None:
    """A stop by signal keeps the promise that --resume sends the rest."""
    text = format_summary(Summary("camp", "r.jsonl", stopped="signal", stop_detail="SIGINT received"))
    assert "the results are consistent" in text


def test_a_second_signal_aborts_the_campaign_then_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """exit_now erases the line, calls Campaign.abort, says what --resume will do and exits 3."""
    calls: list[str] = []

    class Stub:
        def abort(self) -> None:
            calls.append("abort")

    def fake_exit(code: int) -> None:
        calls.append(f"exit {code}")
        raise SystemExit(code)

    monkeypatch.setattr(runner.os, "_exit", fake_exit)
    err = io.StringIO()
    with pytest.raises(SystemExit):
        runner.exit_now(Stub(), ProgressBar(total=None, enabled=False), err)  # type: ignore[arg-type]
    assert calls == ["abort", "exit 3"]
    assert "--resume" in err.getvalue()


# -- #13: empty values, --allow-empty, --dry-run --show -------------------------------------------------


def _with_blank_name(tmp_path: Path) -> Path:
    path = tmp_path / "blank.csv"
    path.write_text("cid,name,city\ncid-a,Ann,Oslo\ncid-b,,Rome\n", encoding="utf-8")
    return path


def test_an_empty_placeholder_value_rejects_that_record_naming_the_field(tmp_path: Path) -> None:
    """Without --allow-empty, a record whose placeholder cell is empty is 'rejected' naming it and 'empty'."""
    out = tmp_path / "r.jsonl"
    argv = ("send", _with_blank_name(tmp_path), "--out", out, "--title", "Hi {name}", "--body", "b")
    result = run_cli(*argv, "--no-progress", "--dry-run")
    assert result.code == 1, result.err
    got = {r["cid"]: r for r in rows(out)}
    assert got["cid-a"]["status"] == "validated"
    assert got["cid-b"]["status"] == "rejected"
    assert "'name'" in got["cid-b"]["msg"]
    assert "empty" in got["cid-b"]["msg"]


@pytest.mark.parametrize(
    "flag", [("--allow-empty",), ("--allow-empty", "name"), ("--allow-empty=name,city",)]
)
def test_allow_empty_lets_the_named_or_every_placeholder_render_empty(
    tmp_path: Path, flag: tuple[str, ...]
) -> None:
    """--allow-empty (all) or --allow-empty FIELD[,FIELD] lets an empty cell render as empty text."""
    out = tmp_path / "r.jsonl"
    argv = ("send", _with_blank_name(tmp_path), "--out", out, "--title", "Hi {name}", "--body", "{city}")
    result = run_cli(*argv, "--no-progress", "--dry-run", *flag)
    assert result.code == 0, result.err
    assert {r["status"] for r in rows(out)} == {"validated"}


def test_allow_empty_for_another_field_still_rejects(tmp_path: Path) -> None:
    """--allow-empty city does not let an empty {name} through."""
    out = tmp_path / "r.jsonl"
    argv = ("send", _with_blank_name(tmp_path), "--out", out, "--title", "Hi {name}", "--body", "{city}")
    result = run_cli(*argv, "--no-progress", "--dry-run", "--allow-empty", "city")
    assert result.code == 1, result.err
    assert {r["cid"]: r["status"] for r in rows(out)}["cid-b"] == "rejected"


def test_allow_empty_naming_no_placeholder_is_a_usage_error(tmp_path: Path) -> None:
    """--allow-empty nmae (no such placeholder) is exit 2 naming it, before any results file exists."""
    out = tmp_path / "r.jsonl"
    argv = ("send", _with_blank_name(tmp_path), "--out", out, "--title", "Hi {name}", "--body", "b")
    result = run_cli(*argv, "--no-progress", "--dry-run", "--allow-empty", "nmae")
    assert result.code == 2
    assert "--allow-empty" in result.err
    assert "nmae" in result.err
    assert "{name}" in result.err
    assert not out.exists()


def test_dry_run_show_prints_the_first_rendered_messages(tmp_path: Path) -> None:
    """--dry-run --show 2 prints two rendered messages (title/body per channel) and validates all 5."""
    inp, out = write_recipients(tmp_path / "in.csv", 5), tmp_path / "r.jsonl"
    result = run_cli("send", inp, "--out", out, *SIMPLE, "--dry-run", "--show", "2")
    assert result.code == 0, result.err
    assert result.out.count("Getui notification: Hello User 0 | Your offer") == 1
    assert "Hello User 1" in result.out
    assert "Hello User 2" not in result.out
    assert "vendor options HW" in result.out
    assert [r["status"] for r in rows(out)] == ["validated"] * 5


def test_show_without_dry_run_is_a_usage_error(tmp_path: Path) -> None:
    """--show N is a dry-run view: without --dry-run it is exit 2 naming both flags, nothing written."""
    inp, out = write_recipients(tmp_path / "in.csv", 2), tmp_path / "r.jsonl"
    result = run_cli("send", inp, "--out", out, *SIMPLE, "--show", "2")
    assert result.code == 2
    assert "--show" in result.err
    assert "--dry-run" in result.err
    assert not out.exists()


# -- #13: the library speaks its own words -------------------------------------------------------------


async def test_library_errors_name_the_library_arguments(tmp_path: Path) -> None:
    """run_campaign into a results file that holds results says resume=True / out=, not CLI flags."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/cid")] = lambda call: reply(
        data={"t": {"cid0000": "successed_online"}}
    )
    out = tmp_path / "out.jsonl"
    inp = recipients(tmp_path, 1)
    await run(inp, fake, out, PERSONAL, mode=Mode.SINGLE)
    with pytest.raises(ResultsFileError) as caught:
        await run(inp, fake, out, PERSONAL, mode=Mode.SINGLE)
    assert "resume=True" in str(caught.value)
    assert "out=" in str(caught.value)
    assert "--" not in str(caught.value)


def test_cli_errors_name_the_flags(served: Any, tmp_path: Path) -> None:
    """The same refusal from the command line names --resume and --out."""
    inp, out = write_recipients(tmp_path / "in.csv", 1), tmp_path / "r.jsonl"
    assert run_cli("send", inp, "--out", out, *SIMPLE, env=served.env).code == 0
    result = run_cli("send", inp, "--out", out, *SIMPLE, env=served.env)
    assert result.code == 2
    assert "--resume" in result.err
    assert "--out" in result.err


# -- #13: placeholders checked against the header before anything is sent ---------------------------------


def test_a_misspelled_placeholder_is_exit_2_before_anything_is_sent(served: Any, tmp_path: Path) -> None:
    """{nmae} over a 'name' column: exit 2 naming it, the columns, the closest; no file, no push."""
    inp, out = write_recipients(tmp_path / "in.csv", 3), tmp_path / "r.jsonl"
    result = run_cli(
        "send", inp, "--out", out, "--title", "Hi {nmae}", "--body", "b", "--no-progress", env=served.env
    )
    assert result.code == 2, result.err
    assert "{nmae}" in result.err
    assert "columns: cid, name" in result.err
    assert "did you mean {name}?" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no results, sidecar or lock file
    assert sum(served.pushes().values()) == 0


def test_a_misspelled_placeholder_is_exit_2_in_a_dry_run_too(tmp_path: Path) -> None:
    """The header check runs for --dry-run as well: no results file is created."""
    inp, out = write_recipients(tmp_path / "in.csv", 3), tmp_path / "r.jsonl"
    result = run_cli(
        "send", inp, "--out", out, "--title", "{Name}", "--body", "b", "--no-progress", "--dry-run"
    )
    assert result.code == 2, result.err
    assert "did you mean {name}?" in result.err
    assert not out.exists()


def test_unbalanced_braces_are_exit_2(tmp_path: Path) -> None:
    """--title '{name' is refused before reading or writing anything."""
    inp, out = write_recipients(tmp_path / "in.csv", 3), tmp_path / "r.jsonl"
    result = run_cli(
        "send", inp, "--out", out, "--title", "Hi {name", "--body", "b", "--no-progress", "--dry-run"
    )
    assert result.code == 2, result.err
    assert not out.exists()


def test_a_jsonl_input_has_no_header_so_a_missing_key_rejects_per_record(tmp_path: Path) -> None:
    """JSONL has no header: a placeholder missing from a record rejects that record only."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "r.jsonl"
    inp.write_text('{"cid": "c1", "name": "A"}\n{"cid": "c2"}\n', encoding="utf-8")
    result = run_cli(
        "send", inp, "--out", out, "--title", "Hi {name}", "--body", "b", "--no-progress", "--dry-run"
    )
    assert result.code == 1, result.err
    assert [r["status"] for r in rows(out)] == ["validated", "rejected"]


async def test_the_library_checks_placeholders_against_the_header_too(tmp_path: Path) -> None:
    """run_campaign raises MessageError for {nmae} before creating the results file."""
    out = tmp_path / "out.jsonl"
    template = MessageTemplate.simple(title="Hi {nmae}", body="b")
    with pytest.raises(MessageError, match=r"did you mean \{name\}\?"):
        await run(recipients(tmp_path, 2), FakeGetui(), out, template)
    assert not out.exists()


# -- #13: the detected encoding is kept for the resume ------------------------------------------------------

GBK = Path(__file__).parent / "data" / "csv_gbk.csv"


def test_a_gbk_file_is_noticed_and_its_encoding_kept_in_the_sidecar(served: Any, tmp_path: Path) -> None:
    """A GBK CSV: stderr says 'input decoded as GB18030', the sidecar keeps gb18030, titles arrive right."""
    out = tmp_path / "r.jsonl"
    result = run_cli(
        "send",
        GBK,
        "--out",
        out,
        "--title",
        "你好 {name}",
        "--body",
        "{city}",
        "--no-progress",
        env=served.env,
    )
    assert result.code == 0, result.err
    assert "input decoded as GB18030" in result.err
    assert read_meta(out)["input"]["encoding"] == "gb18030"
    assert {r["status"] for r in rows(out)} <= {"successed_online", "successed_offline", "successed_ignore"}


def test_a_resume_reads_with_the_encoding_the_first_run_detected(
    served: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--resume with --encoding auto opens the input with the sidecar's encoding (no second guess)."""
    out = tmp_path / "r.jsonl"
    argv = ("send", GBK, "--out", out, "--title", "{name}", "--body", "{city}", "--no-progress")
    assert run_cli(*argv, env=served.env).code == 0
    seen: list[str] = []
    real = runner.open_source

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["options"].encoding)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "open_source", spy)
    result = run_cli(*argv, "--resume", env=served.env)
    assert result.code == 0, result.err
    assert seen == ["gb18030"]
    assert "decoded as GB18030" not in result.err


# -- #13: records a library caller already holds ------------------------------------------------------------


def _ok_batch(call: Call) -> Response:
    data = {
        f"t{i}": {m["audience"]["cid"][0]: "successed_online"} for i, m in enumerate(call.body["msg_list"])
    }
    return reply(data=data)


async def test_run_campaign_takes_a_list_of_mappings_numbered_as_lines(tmp_path: Path) -> None:
    """A list of dicts goes straight in; each result's line is its record number; a bad one is rejected."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = _ok_batch
    out = tmp_path / "out.jsonl"
    records = [{"cid": "c1", "name": "A"}, {"cid": "c2"}, {"cid": "c3", "name": "C"}]
    summary = await run_campaign(
        records, PERSONAL, settings(), CampaignSettings(mode=Mode.BATCH), out=out, transport=fake.transport()
    )
    got = {r["line"]: (r.get("cid"), r["status"]) for r in rows(out)}
    assert got == {1: ("c1", "successed_online"), 2: ("c2", "rejected"), 3: ("c3", "successed_online")}
    assert summary.exit_code == 1


async def test_run_campaign_takes_an_async_iterable_and_resumes_it(tmp_path: Path) -> None:
    """An async generator of mappings is sent; resume=True with the same records sends nothing again."""
    fake = FakeGetui()
    fake.routes[("POST", "/push/single/batch/cid")] = _ok_batch
    out = tmp_path / "out.jsonl"

    async def records() -> Any:
        for i in range(5):
            yield {"cid": f"c{i}", "name": f"N{i}"}

    options = CampaignSettings(mode=Mode.BATCH)
    first = await run_campaign(records(), PERSONAL, settings(), options, out=out, transport=fake.transport())
    assert first.done == 5
    again = await run_campaign(
        records(), PERSONAL, settings(), options, out=out, resume=True, transport=fake.transport()
    )
    assert (again.done, again.skipped) == (0, 5)
    assert len(fake.path_calls("/push/single/batch/cid")) == 1


# -- #11/#13: check reads the input with send's flags ---------------------------------------------------


def test_check_takes_the_input_flags_of_send(tmp_path: Path) -> None:
    """check --delimiter ';' --cid-column user_id counts a semicolon file send would read the same way."""
    inp = tmp_path / "in.csv"
    inp.write_text("user_id;name\nc1;A\nc2;B\nc2;B\n", encoding="utf-8")
    result = run_cli("check", inp, "--json", "--delimiter", ";", "--cid-column", "user_id")
    assert result.code == 0, result.err
    report = _json.loads(result.out)
    assert (report["records"], report["cids"], report["duplicates"]) == (3, 2, 1)


def test_check_names_a_header_without_the_chosen_id_column(tmp_path: Path) -> None:
    """check --cid-column missing is exit 2 listing the columns found, as send says it."""
    inp = tmp_path / "in.csv"
    inp.write_text("user_id,name\nc1,A\n", encoding="utf-8")
    result = run_cli("check", inp, "--cid-column", "uid")
    assert result.code == 2
    assert "user_id" in result.err


def test_check_refuses_a_placeholder_that_is_no_column(tmp_path: Path) -> None:
    """check --title '{nmae}' is the same exit 2 as send, naming the closest column."""
    inp = write_recipients(tmp_path / "in.csv", 2)
    result = run_cli("check", inp, "--title", "Hi {nmae}", "--body", "b")
    assert result.code == 2
    assert "did you mean {name}?" in result.err


def test_a_resume_with_another_encoding_is_refused(served: Any, tmp_path: Path) -> None:
    """--resume --encoding utf-8 after a run that read the file as GB18030 is exit 2 saying both."""
    out = tmp_path / "r.jsonl"
    argv = ("send", GBK, "--out", out, "--title", "{name}", "--body", "{city}", "--no-progress")
    assert run_cli(*argv, env=served.env).code == 0
    result = run_cli(*argv, "--resume", "--encoding", "utf-8", env=served.env)
    assert result.code == 2
    assert "gb18030" in result.err
    assert "utf-8" in result.err
