"""The Evaluate tab in a real browser (Debian's Chromium): evaluate the fine-tune, its base and every
checkpoint of its run; after a reload the tab shows the table, the checkpoint and depth plots and the
style chart; a blind vote on two replies is stored with its held-out context and both replies."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from core import artifacts
from core.artifacts import Vote
from tests.app_server import launch_chromium, running_demo_app

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(tmp_path_factory, workspace, demo_model_dir, chat_export):
    """A workspace of its own holding the session's fine-tune (its run and its export), so its votes
    and evaluations stay out of the other tests' way."""
    root = tmp_path_factory.mktemp("evaluate-app") / "workspace"
    for folder in ("datasets/sample", "runs/chat-run", "exports/chat-run-final"):
        shutil.copytree(workspace.root / folder, root / folder, ignore=shutil.ignore_patterns("merged"))
    with running_demo_app(root, demo_model_dir) as url:
        yield url, root


def test_evaluate_view_plots_and_a_blind_vote_with_its_context(app):
    url, root = app
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1400}, locale="ko-KR")
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_role("tab", name="Evaluate · 평가").first.click()
        tab = page.locator("#tab-evaluate")
        # The default pair (the base and the newest fine-tune) is chosen; add every checkpoint of the run.
        models = tab.get_by_label("비교할 모델", exact=True)
        models.click()
        page.get_by_role("option", name="chat-run · 모든 체크포인트 (transformers)").first.click()
        tab.get_by_label("모델마다 답할 검증 문맥 수").fill("3")
        tab.get_by_label("답변당 최대 토큰").fill("12")
        tab.get_by_role("button", name="평가하기", exact=True).click()
        page.wait_for_selector("#evaluation-status .evaluation-progress[data-state='running']")
        page.wait_for_selector("#evaluation-status .evaluation-progress[data-state='completed']", timeout=300_000)

        page.reload()  # the evaluation is shown again from its files
        page.get_by_role("tab", name="Evaluate · 평가").first.click()
        page.wait_for_selector("#evaluation-status .evaluation-progress[data-state='completed']")
        results = page.locator("#evaluation-results")
        for label in ("chat-run-final · q4_k_m", "chat-run · checkpoint-5", "chat-run · final"):
            results.get_by_text(label, exact=True).first.wait_for()
        for plot in ("#checkpoint-plot", "#depth-plot", "#style-plot"):
            page.wait_for_function(f"() => document.querySelectorAll('{plot} g.mark-line path, "
                                   f"{plot} g.mark-rect path').length >= 1")
        page.locator("#style-table").get_by_text("실제 답변").first.wait_for()
        page.locator("#evaluation-status").get_by_text(re.compile("chat-run의 가장 좋은 체크포인트: 스텝 10")).wait_for()

        page.locator("#next-pair").click()
        page.wait_for_function("() => document.querySelector('#reply-a textarea').value !== '' || "
                               "document.querySelector('#reply-b textarea').value !== ''")
        page.locator("#evaluation-vote-left").click()
        page.locator("#evaluation-vote-message").get_by_text(re.compile("투표를 저장했습니다")).wait_for()
        shown_a = page.locator("#reply-a textarea").input_value()  # the pair the vote was on
        page.screenshot(path=str(root.parent / "evaluate.png"), full_page=True)
        browser.close()

    votes = artifacts.read_rows(root / "votes.jsonl", Vote)
    assert len(votes) == 1
    vote = votes[0]
    assert vote.verdict == "left" and vote.winner == vote.left and vote.blind
    assert vote.evaluation and vote.evaluation.startswith("evaluations/")
    assert vote.replies[vote.left] == shown_a and set(vote.replies) == {vote.left, vote.right}
    assert vote.context[-1]["real"] is True and vote.context[-2]["role"] == "user"
    evaluation = json.loads((root / vote.evaluation / "evaluation.json").read_text(encoding="utf-8"))
    assert [context["history"] for context in evaluation["contexts"]].count(vote.context[:-1]) == 1
