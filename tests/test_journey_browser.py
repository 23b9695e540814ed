"""A user's day in a real browser (Debian's Chromium through Playwright), against the app started as
README.md starts it, offline: prepare the bundled sample, train the demo model and watch the loss
and progress move, export q4_k_m and see it verified, compare base and fine-tuned with a Korean
message, vote blind and see the tally. Screenshots of each step go to test-artifacts/journey/."""
from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest

from tests.app_server import launch_chromium, running_demo_app
from tests.conftest import ROOT

playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = ROOT / "test-artifacts" / "journey"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture
def net_audit(tmp_path) -> Path:
    return tmp_path / "connections.jsonl"


@pytest.fixture
def page(tmp_path, demo_model_dir, net_audit):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    audit = {"PYTHONPATH": str(ROOT / "tests" / "netaudit"), "TUNER_NET_AUDIT": str(net_audit)}
    with running_demo_app(tmp_path / "workspace", demo_model_dir, as_readme=True, env_extra=audit) as url, \
            playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
        page.set_default_timeout(60_000)
        page.requested_hosts = set()
        page.on("request", lambda request: page.requested_hosts.add(urllib.parse.urlsplit(request.url).hostname))
        page.goto(url)
        yield page
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_tab(page, name: str):
    page.get_by_role("tab", name=name).first.click()


def choose(page, scope: str, label: str, value: str) -> None:
    box = page.locator(scope).get_by_label(label, exact=True)
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).first.click()


def wait_for_both_answers(page) -> None:
    """Both panes have an answer, finished (its speed shown)."""
    for pane in ("#chat-a", "#chat-b"):
        page.locator(f"{pane} .message-row.bot-row").first.wait_for()
    page.wait_for_function("() => ['#stats-a', '#stats-b'].every(id => "
                           "document.querySelector(id).innerText.includes('tok/s'))")


def outside_targets(net_audit: Path) -> list[dict]:
    """Name lookups and connections of the app's processes that were not to this machine."""
    if not net_audit.is_file():
        return []
    records = [json.loads(line) for line in net_audit.read_text(encoding="utf-8").splitlines()]
    local = ("'127.0.0.1'", "'localhost'", "'::1'", "None", "'/")  # loopback, or a Unix socket path
    return [record for record in records if not any(mark in record["target"] for mark in local)]


def test_prepare_train_export_compare_and_vote_in_a_browser(page, net_audit):
    # The browser is Korean (ko-KR), so the page speaks Korean: the journey as a Korean user lives it.
    # 1. Dataset: the bundled AI Hub sample is preselected; preview it and save it.
    open_tab(page, "Dataset · 데이터셋")
    dataset_tab = page.locator("#tab-dataset")
    dataset_tab.get_by_role("button", name="미리보기").click()
    dataset_tab.get_by_text("학습 과정에 들어가는 그대로의 샘플").wait_for()
    page.wait_for_function("() => document.querySelector('#tab-dataset').innerText.includes('<|end_of_text|>')")
    dataset_tab.get_by_label("저장 이름").fill("journey")
    dataset_tab.get_by_role("button", name="데이터셋 저장").click()
    dataset_tab.get_by_text(re.compile("journey.*저장 완료")).first.wait_for()
    shot(page, "1-dataset")

    # 2. Train the demo model on it; the progress and the loss plot move.
    open_tab(page, "Train · 학습")
    train_tab = page.locator("#tab-train")
    choose(page, "#tab-train", "데이터셋", "journey")
    train_tab.get_by_label("최대 스텝 (-1: 에폭 수만큼 학습)").fill("16")
    run_name = train_tab.get_by_label("실행 이름").input_value()
    train_tab.get_by_role("button", name="시작", exact=True).click()
    page.wait_for_selector("#tab-train .run-progress[data-state='running']")
    page.wait_for_function("() => /손실\\(loss\\) \\d/.test(document.querySelector('#tab-train .run-progress').innerText)",
                           timeout=240_000)
    first_step = int(re.search(r"스텝 (\d+)/", train_tab.locator(".run-progress").inner_text())[1])
    shot(page, "2-training")
    page.wait_for_selector("#tab-train .run-progress[data-state='completed']", timeout=300_000)
    last_step = int(re.search(r"스텝 (\d+)/", train_tab.locator(".run-progress").inner_text())[1])
    assert last_step == 16 and last_step > first_step
    # The loss plot draws a train and a validation line, named in its legend.
    page.wait_for_function("""() => {
        const legend = [...document.querySelectorAll('#tab-train .role-legend text')].map(t => t.textContent);
        return document.querySelectorAll('#tab-train g.mark-line path').length >= 2
            && legend.includes('train') && legend.includes('validation');
    }""")
    shot(page, "3-trained")

    # 3. Export q4_k_m (with the GGUF LoRA and base, for Compare's A) and see it verified.
    open_tab(page, "Export · 내보내기")
    export_tab = page.locator("#tab-export")
    choose(page, "#tab-export", "실행", run_name)
    for kind in ("f16", "q8_0"):
        export_tab.get_by_label(kind, exact=True).uncheck()
    export_tab.get_by_role("button", name="내보내기", exact=True).click()
    export_tab.get_by_text("모든 파일 검증됨").wait_for(timeout=300_000)
    assert export_tab.get_by_text("model-q4_k_m.gguf").count() > 0
    shot(page, "4-exported")

    # 4. Compare base (A) and fine-tuned (B) with a Korean message: both panes answer.
    open_tab(page, "Chat · 대화")
    page.get_by_role("tab", name="Compare · 비교").click()
    chat_tab = page.locator("#tab-chat")
    expect_value = f"{run_name}-final · q4_k_m"
    page.wait_for_function(f"() => [...document.querySelectorAll('#tab-chat input')].some(i => i.value === {expect_value!r})")
    box = page.locator("#compare-message textarea")
    box.fill("퇴근하고 뭐 할 거야?")
    box.press("Enter")
    wait_for_both_answers(page)
    shot(page, "5-compare")

    # 5. Blind: sides shuffled and hidden; vote; the names and the tally appear.
    chat_tab.get_by_role("checkbox", name=re.compile("^블라인드")).check()
    page.get_by_role("button", name=re.compile("A is better")).wait_for()
    box.fill("내일 점심 같이 먹을래?")
    box.press("Enter")
    wait_for_both_answers(page)
    page.get_by_role("button", name=re.compile("A is better")).click()
    chat_tab.get_by_text("투표를 저장했습니다").wait_for()
    tally = chat_tab.locator("table").last
    assert tally.get_by_text(expect_value).count() > 0
    shot(page, "6-blind-vote")

    # Nothing left the machine: not from the page, nor from the app, training or export processes.
    assert page.requested_hosts <= LOCAL_HOSTS, page.requested_hosts
    watched = [json.loads(line)["argv"] for line in net_audit.read_text(encoding="utf-8").splitlines()
               if '"audit started"' in line]
    assert any("app.py" in " ".join(argv) for argv in watched) and any("-m" in argv for argv in watched), watched
    assert not outside_targets(net_audit), outside_targets(net_audit)
