"""The nightly and on-demand deployments, served against a real Prefect server (conftest.py).

One served run of the sample county is shared by the first tests (outputs, artifacts); the others
trigger their own runs with parameters that point elsewhere. The whole module takes about two
minutes on a 2-core machine, most of it starting the server.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from prefect_harness import BIN, client_env

pytestmark = pytest.mark.server

AS_OF = "2023-12-15"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def first_run(served, trigger, wait_final):
    """The on-demand deployment run once, by hand, with the served defaults and as_of=2023-12-15."""
    run_id = trigger("on-demand", as_of=AS_OF)
    fr = wait_final(run_id)
    assert fr.state.is_completed(), f"flow run {fr.name}: {fr.state.name}: {fr.state.message}"
    seconds = (fr.end_time - fr.start_time).total_seconds()
    print(f"\nserved on-demand run on the sample county: {seconds:.1f} s (flow run start → end)")
    return fr


def test_serve_refuses_without_a_server(tmp_path):
    env = client_env(tmp_path, None)  # no PREFECT_API_URL, empty PREFECT_HOME (no profile)
    res = subprocess.run(
        [str(BIN / "ledgerflow"), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "PREFECT_API_URL" in res.stderr


def test_on_demand_run_completes_with_correct_outputs(served, first_run, check_outputs):
    assert first_run.deployment_id is not None
    with served.server.client() as c:
        dep = c.read_deployment(first_run.deployment_id)
    assert dep.name == "on-demand"
    assert first_run.parameters["as_of"] == AS_OF
    res = check_outputs(served.out)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]


def test_run_publishes_summary_and_township_artifacts(served, first_run):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with served.server.client() as c:
        arts = c.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[first_run.id]),
                key=ArtifactFilterKey(any_=["ledgerflow-summary", "ledgerflow-townships"]),
            )
        )
    by_key = {a.key: a for a in arts}
    assert set(by_key) == {"ledgerflow-summary", "ledgerflow-townships"}

    summary = by_key["ledgerflow-summary"]
    assert summary.type == "markdown"
    figures = json.loads((served.out / "figures.json").read_text(encoding="utf-8"))
    topics = figures["figures"]["research.topics"]["total"]
    line = next(ln for ln in summary.data.splitlines() if "`research.topics`" in ln)
    assert f"| {topics} |" in line, line
    for heading in ("## 主要指标", "## 文件状态", "## 应报未报单位", "## 问题代码"):
        assert heading in summary.data

    townships = by_key["ledgerflow-townships"]
    assert townships.type == "table"
    rows = json.loads(townships.data) if isinstance(townships.data, str) else townships.data
    assert {r["code"] for r in rows} == {"QX-T01", "QX-T02", "QX-D01"}
    assert set(rows[0]) == {
        "code",
        "name",
        "topics",
        "reports",
        "problems",
        "closed",
        "close_rate",
        "overdue",
    }
    assert sum(r["topics"] for r in rows) <= topics  # the county's own topics come on top


def test_nightly_runs_at_two_in_the_morning_shanghai_time(served):
    import time

    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with served.server.client() as c:
        dep = c.read_deployment_by_name("ledgerflow/nightly")
        assert [s.schedule.cron for s in dep.schedules] == ["0 2 * * *"]
        assert dep.schedules[0].schedule.timezone == "Asia/Shanghai"
        assert dep.schedules[0].active and not dep.paused
        assert c.read_deployment_by_name("ledgerflow/on-demand").schedules == []
        flt = FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[dep.id]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
        )
        deadline = time.monotonic() + 90  # the scheduler service fills the schedule in the background
        while not (
            runs := c.read_flow_runs(flow_run_filter=flt, sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1)
        ):
            assert time.monotonic() < deadline, "no scheduled run of ledgerflow/nightly after 90 s"
            time.sleep(1)
    nxt = runs[0].expected_start_time.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (nxt.hour, nxt.minute) == (2, 0), nxt
    assert 0 < (nxt - datetime.now(UTC)).total_seconds() <= 24 * 3600, nxt


def test_two_on_demand_runs_at_once_both_complete_one_after_the_other(
    served, first_run, trigger, wait_final, check_outputs, tmp_path
):
    wh, out = tmp_path / "wh" / "warehouse.duckdb", tmp_path / "out"
    ids: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: ids.append(trigger("on-demand", as_of=AS_OF, warehouse=str(wh), out=str(out)))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 2
    runs = [wait_final(i) for i in ids]
    for fr in runs:
        assert fr.state.is_completed(), f"{fr.name}: {fr.state.name}: {fr.state.message}"

    con = duckdb.connect(str(wh), read_only=True)
    try:
        rows = con.execute("select run_id, status, files_parsed from lf.runs order by run_id").fetchall()
    finally:
        con.close()
    # run 2 started from run 1's published warehouse: it found every workbook already parsed
    assert [(r[0], r[1]) for r in rows] == [(1, "completed"), (2, "completed")]
    assert rows[0][2] > 0 and rows[1][2] == 0, rows
    reference = json.loads((served.out / "figures.json").read_text(encoding="utf-8"))
    assert json.loads((out / "figures.json").read_text(encoding="utf-8")) == reference
    assert check_outputs(out).returncode == 0


@pytest.mark.parametrize("case", ["missing registry", "out below a file"])
def test_failed_run_shows_failed_and_leaves_the_warehouse_unchanged(
    served, first_run, trigger, wait_final, tmp_path, case
):
    before = sha256(served.warehouse)
    params: dict[str, str] = {"as_of": AS_OF}
    if case == "missing registry":
        params["registry"] = str(tmp_path / "no-such-registry.xlsx")
    else:  # fails after the private copy was made and loaded: writing the outputs
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder", encoding="utf-8")
        params["out"] = str(blocker / "out")
    fr = wait_final(trigger("on-demand", **params))
    assert fr.state.is_failed(), f"{fr.name}: {fr.state.name}: {fr.state.message}"
    print(f"\n{case}: {fr.state.name}: {fr.state.message}")
    assert fr.state.message and len(fr.state.message) > 10, fr.state.message
    assert sha256(served.warehouse) == before
    leftovers = [
        p.name
        for p in served.warehouse.parent.iterdir()
        if p.name.startswith((".ledgerflow-stage", f"{served.warehouse.name}.building"))
    ]
    assert leftovers == []


# ---- the server on an office network: basic authentication, loopback by default -----------------


def _api_status(url: str, auth: str | None) -> tuple[int, dict]:
    """POST …/deployments/filter with the given user:password (or none): HTTP status and body."""
    import base64
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    req = urllib.request.Request(f"{url}/deployments/filter", data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_the_api_refuses_requests_without_the_right_auth_string(served):
    url, auth = served.server.url, served.server.auth
    for who, given in (("no credentials", None), ("wrong password", auth.split(":")[0] + ":wrong")):
        status, body = _api_status(url, given)
        assert status == 401, (who, status, body)
        assert "ledgerflow" not in json.dumps(body, ensure_ascii=False)  # nothing of the deployments leaks
    status, body = _api_status(url, auth)
    assert status == 200
    assert {d["name"] for d in body} >= {"nightly", "on-demand"}


def test_the_server_listens_on_loopback_only_by_default(prefect_server):
    import socket

    from prefect_harness import local_address

    with socket.create_connection(("127.0.0.1", prefect_server.port), timeout=5):
        pass
    addr = local_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(OSError), socket.create_connection((addr, prefect_server.port), timeout=5):
        pass  # pragma: no cover - the server must not be reachable from the network


@pytest.mark.parametrize("case", ["missing", "wrong"])
def test_serve_refuses_a_server_that_refuses_its_credentials(prefect_server, tmp_path, case):
    auth = None if case == "missing" else "ledgerflow:not-the-password"
    env = client_env(tmp_path, prefect_server.url, auth)
    res = subprocess.run(
        [str(BIN / "ledgerflow"), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "401" in res.stderr and "PREFECT_API_AUTH_STRING" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert prefect_server.auth.split(":")[1] not in res.stdout + res.stderr


def test_a_run_without_credentials_fails_and_one_with_them_in_dotenv_completes(
    prefect_server, sample_county, tmp_path
):
    wh, out = tmp_path / "wh" / "warehouse.duckdb", tmp_path / "out"
    argv = [str(BIN / "ledgerflow"), "run", "--inbox", str(sample_county / "inbox")]
    argv += ["--registry", str(sample_county / "registry.xlsx"), "--warehouse", str(wh), "--out", str(out)]
    argv += ["--as-of", AS_OF]
    env = client_env(tmp_path / "home", prefect_server.url)  # the server named, no auth string
    res = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "401" in res.stderr and "PREFECT_API_AUTH_STRING" in res.stderr, res.stderr
    assert not wh.exists() and not out.exists()

    # the office's .env, with the value quoted as in Prefect's documentation
    (tmp_path / ".env").write_text(
        f'PREFECT_API_URL={prefect_server.url}\nPREFECT_API_AUTH_STRING="{prefect_server.auth}"\n',
        encoding="utf-8",
    )
    env = client_env(tmp_path / "home", None)
    res = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert (out / "figures.json").is_file()
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentTaskRunId

    with prefect_server.client() as c:  # recorded on this server, not on a temporary one
        runs = c.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True))
        )
    assert any(r.parameters.get("warehouse") == str(wh) for r in runs)
