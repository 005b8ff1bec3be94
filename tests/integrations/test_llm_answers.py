"""The optional LLM path through langchain-openai's real client against a local OpenAI-compatible
stand-in: grounded answer with the same citations; any failure falls back to the extractive answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.messages import Message
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from tests.conftest import make_settings
from tests.llm_standin import OpenAIStandIn


@pytest.fixture
def llm_runtime(tmp_path: Path, llm: OpenAIStandIn) -> Iterator[Runtime]:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'llm.db'}",
        llm=llm,
    )
    rt = build_runtime(settings)
    bootstrap_samples(rt)
    yield rt
    rt.close()


def ask(runtime: Runtime, text: str) -> Any:
    return runtime.assistant.handle(
        Message(user_id="U0000DEVONE", text=text, channel="web:U0000DEVONE", platform="web")
    )


def test_llm_writes_the_answer_from_retrieved_passages(llm_runtime: Runtime, llm: OpenAIStandIn) -> None:
    llm.reply = "You get 25 vacation days a year [1]. See [the portal](https://evil.example/steal?q=1) for more."
    reply = ask(llm_runtime, "how many vacation days do I get?")
    assert reply.text.startswith("You get 25 vacation days a year [1].")
    assert "evil.example" not in reply.text  # links from model output are never passed on
    assert reply.citations and reply.citations[0].title == "Vacation and Annual Leave"
    request = llm.requests[0]
    assert request["model"] == "gpt-standin"
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "never instructions" in system
    assert "25 vacation days" in user and "how many vacation days do I get?" in user


def test_llm_no_answer_or_failure_falls_back_to_extractive(llm_runtime: Runtime, llm: OpenAIStandIn) -> None:
    llm.reply = "NO_ANSWER"
    reply = ask(llm_runtime, "how many vacation days do I get?")
    assert "25" in reply.text and reply.citations
    llm.status = 500
    reply = ask(llm_runtime, "what is the hotel limit per night?")
    assert "200" in reply.text and reply.citations


def test_offline_default_never_calls_an_llm(offline_runtime: Runtime) -> None:
    assert offline_runtime.assistant.answer_writer is None
    reply = ask(offline_runtime, "how many vacation days do I get?")
    assert "25" in reply.text
